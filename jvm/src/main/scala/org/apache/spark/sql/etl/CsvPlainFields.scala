package org.apache.spark.sql.etl

import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.expressions.{Expression, GenericInternalRow, UnaryExpression}
import org.apache.spark.sql.catalyst.expressions.codegen.CodegenFallback
import org.apache.spark.sql.types.{DataType, IntegerType, StringType, StructField, StructType}
import org.apache.spark.unsafe.Platform
import org.apache.spark.unsafe.types.UTF8String

/**
 * A CSV record written plainly, split on its delimiter in one pass over its bytes: how many values it holds, and
 * its first `columns` values as `from_csv` reads them into strings (an empty value is NULL, a missing one NULL).
 *
 * Plainly means no quote or escape character, no control character but tab, and strict UTF-8: there `from_csv`
 * only splits on the delimiter, so both agree. Any other record is NULL, for `from_csv` to read (and
 * etl.transforms_csv to count its values outside quotes). The result is a struct of `count` and `values`
 * (`c0`, `c1`, ... as `from_csv`'s schema names them).
 */
case class CsvPlainFields(record: Expression, columns: Int, delimiter: Byte, quote: Byte, escape: Byte)
  extends UnaryExpression with CodegenFallback {

  override def child: Expression = record
  override def dataType: DataType = CsvPlainFields.schema(columns)
  override def nullable: Boolean = true
  override def prettyName: String = "csv_plain_fields"

  override def eval(input: InternalRow): Any = {
    val text = record.eval(input).asInstanceOf[UTF8String]
    if (text == null) return null
    val size = text.numBytes
    // A copy of the record's bytes, which its values then share: the reader may reuse its buffer for the next line.
    val bytes = new Array[Byte](size)
    Platform.copyMemory(text.getBaseObject, text.getBaseOffset, bytes, Platform.BYTE_ARRAY_OFFSET, size)
    val values = new Array[Any](columns)
    var count = 0
    var start = 0
    var ascii = true
    var i = 0
    while (i <= size) {
      if (i == size || bytes(i) == delimiter) {
        if (count < columns && i > start) values(count) = UTF8String.fromBytes(bytes, start, i - start)
        count += 1
        start = i + 1
      } else {
        val byte = bytes(i)
        if (byte == quote || byte == escape || (byte >= 0 && byte < 0x20 && byte != '\t')) return null
        if (byte < 0) ascii = false
      }
      i += 1
    }
    if (!ascii && !Utf8JsonToStructs.isStrictUtf8WithoutNul(bytes, 0, size)) return null
    new GenericInternalRow(Array[Any](count, new GenericInternalRow(values)))
  }

  override protected def withNewChildInternal(newChild: Expression): CsvPlainFields = copy(record = newChild)
}

object CsvPlainFields {
  def schema(columns: Int): StructType = StructType(Seq(
    StructField("count", IntegerType, nullable = false),
    StructField("values", StructType((0 until columns).map(i => StructField(s"c$i", StringType))), nullable = false)))
}
