package org.apache.spark.sql.etl

import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.expressions.{BinaryExpression, Expression, Nondeterministic}
import org.apache.spark.sql.catalyst.expressions.codegen.CodegenFallback
import org.apache.spark.sql.types.{DataType, StringType}
import org.apache.spark.unsafe.types.UTF8String

/**
 * `text` of the first rows of each input partition where `condition` holds, up to `maxRows` of them and
 * `maxBytes` of text; NULL for every other row, and for every row after the first that no longer fits.
 *
 * The JSON job keeps its rejected lines this way while it reads the file, so that a file with a few bad
 * lines is not read a second time to find them. Spark's `collect_list` keeps every value it is given; this
 * bounds what a partition hands to the job's metrics however many of its lines are bad (the job then finds
 * them again by position). Nondeterministic: the answer depends on the rows before it in the partition.
 */
case class KeptText(condition: Expression, text: Expression, maxRows: Int, maxBytes: Long)
  extends BinaryExpression with Nondeterministic with CodegenFallback {

  @transient private[this] var rows: Int = _
  @transient private[this] var bytes: Long = _

  override def left: Expression = condition
  override def right: Expression = text
  override def dataType: DataType = StringType
  override def nullable: Boolean = true
  override def prettyName: String = "kept_text"

  override protected def initializeInternal(partitionIndex: Int): Unit = {
    rows = 0
    bytes = 0L
  }

  override protected def evalInternal(input: InternalRow): Any = {
    val wanted = condition.eval(input)
    if (wanted == null || !wanted.asInstanceOf[Boolean]) return null
    val value = text.eval(input).asInstanceOf[UTF8String]
    if (value == null || rows >= maxRows || bytes + value.numBytes > maxBytes) {
      rows = maxRows // one that does not fit ends the partition's share: the job then looks them all up
      return null
    }
    rows += 1
    bytes += value.numBytes
    value
  }

  override protected def withNewChildrenInternal(newLeft: Expression, newRight: Expression): KeptText =
    copy(condition = newLeft, text = newRight)
}
