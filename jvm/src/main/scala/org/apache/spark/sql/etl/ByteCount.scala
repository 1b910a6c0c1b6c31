package org.apache.spark.sql.etl

import org.apache.spark.sql.catalyst.expressions.{Expression, NullIntolerant, UnaryExpression}
import org.apache.spark.sql.catalyst.expressions.codegen.{CodegenContext, ExprCode}
import org.apache.spark.sql.types.{DataType, IntegerType}
import org.apache.spark.unsafe.Platform
import org.apache.spark.unsafe.types.UTF8String

/**
 * How often one ASCII character occurs in a string.
 *
 * Spark has no such function: `size(split(line, c)) - 1` builds every piece of the line, some 0.35 s
 * per million lines for each character counted. This walks the UTF-8 bytes once and allocates nothing.
 * An ASCII byte never occurs inside a multi-byte UTF-8 sequence, so the count of the byte is the count of
 * the character in any text.
 */
case class ByteCount(child: Expression, target: Byte) extends UnaryExpression with NullIntolerant {
  require(target >= 0, s"ByteCount counts an ASCII character, not the byte $target")

  override def dataType: DataType = IntegerType

  override protected def nullSafeEval(input: Any): Any = ByteCount.count(input.asInstanceOf[UTF8String], target)

  override protected def doGenCode(ctx: CodegenContext, ev: ExprCode): ExprCode =
    defineCodeGen(ctx, ev, text => s"org.apache.spark.sql.etl.ByteCount.count($text, (byte) $target)")

  override def prettyName: String = "count_byte"

  override protected def withNewChildInternal(newChild: Expression): ByteCount = copy(child = newChild)
}

object ByteCount {
  def count(text: UTF8String, target: Byte): Int = {
    val base = text.getBaseObject
    val offset = text.getBaseOffset
    val end = offset + text.numBytes
    var found = 0
    var at = offset
    while (at < end) {
      if (Platform.getByte(base, at) == target) found += 1
      at += 1
    }
    found
  }
}
