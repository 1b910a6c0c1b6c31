"""Rows of a CSV file whose quoted values span lines: which lines make each row, across input splits."""

from etl.transforms_csv import multi_line_spans, span_lines


def test_the_lines_of_rows_spanning_lines_across_splits():
    second = 1 << 33  # the first line of the second input partition
    spans = multi_line_spans([2, 4, 9, second + 1, second + 5])
    assert spans == [(2, 4), (9, second + 1), (second + 5, (1 << 63) - 1)]
    assert span_lines(spans, {0: 11, 1: 8}) == [
        (2, 2), (3, 2), (4, 2), (9, 9), (10, 9), (second, 9), (second + 1, 9)]
