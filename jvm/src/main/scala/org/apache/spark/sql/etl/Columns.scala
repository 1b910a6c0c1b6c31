package org.apache.spark.sql.etl

import org.apache.spark.sql.Column
import org.apache.spark.sql.catalyst.expressions.JsonToStructs

/** This library's expressions as Columns, for PySpark (which reaches them through its JVM gateway). */
object Columns {
  /** Whether the parsed line `record` surely meets the contract's field rules (see MeetsContract). */
  def meetsContract(record: Column, typed: Column, rulesJson: String): Column = {
    FieldRule.parse(rulesJson) // a malformed rule list fails here, when the job is planned, not in a task
    new Column(MeetsContract(record.expr, typed.expr, rulesJson))
  }

  /**
   * The classification's byte-level tests of `line`, parsed into `record` (see LineGate). The ordinals are
   * comma-separated: `textOrdinals` of the fields sent as JSON strings, `doubleOrdinals` of the doubles.
   */
  def lineGate(line: Column, record: Column, textOrdinals: String, doubleOrdinals: String, corruptOrdinal: Int): Column = {
    def ordinals(text: String): Seq[Int] = text.split(",").toSeq.filter(_.nonEmpty).map(_.toInt)
    new Column(LineGate(line.expr, record.expr, ordinals(textOrdinals), ordinals(doubleOrdinals), corruptOrdinal))
  }

  /**
   * A CSV record's value count and first `columns` values, split in one pass when it is written plainly (see
   * CsvPlainFields). The delimiter, quote and escape are one ASCII character each.
   */
  def csvPlainFields(record: Column, columns: Int, delimiter: String, quote: String, escape: String): Column = {
    def byte(character: String, what: String): Byte = {
      require(character.length == 1 && character.charAt(0) < 0x80, s"the CSV $what must be one ASCII character")
      character.charAt(0).toByte
    }
    new Column(CsvPlainFields(record.expr, columns, byte(delimiter, "delimiter"), byte(quote, "quote"),
      byte(escape, "escape")))
  }

  /** `column` evaluated by Spark's interpreter, not generated code (see Interpreted). */
  def interpreted(column: Column): Column = new Column(Interpreted(column.expr))

  /** `text` where `condition` holds, for the first rows of each partition that fit the bounds (see KeptText). */
  def keptText(condition: Column, text: Column, maxRows: Int, maxBytes: Long): Column =
    new Column(KeptText(condition.expr, text.expr, maxRows, maxBytes))

  /** A `from_json` column into a struct, reading UTF-8 bytes (see Utf8JsonToStructs). */
  def parsingBytes(fromJson: Column): Column = fromJson.expr match {
    case parse: JsonToStructs =>
      new Column(new Utf8JsonToStructs(parse.schema, parse.options, parse.child, parse.timeZoneId))
    case other => throw new IllegalArgumentException(s"parsingBytes takes a from_json column, not $other")
  }
}
