package org.apache.spark.sql.etl

import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.expressions.{BinaryExpression, Expression}
import org.apache.spark.sql.catalyst.expressions.codegen.{CodegenContext, ExprCode, FalseLiteral}
import org.apache.spark.sql.catalyst.expressions.codegen.Block._
import org.apache.spark.sql.types.{DataType, IntegerType}
import org.apache.spark.unsafe.Platform
import org.apache.spark.unsafe.types.UTF8String

/**
 * The classification's byte-level tests of a parsed line, in one pass over its bytes (etl.transforms:
 * `_plainly_one_object` and `_strings_sent_as_strings`, which write the same tests with Spark's functions).
 *
 * Returns 0 when the line is not plainly one object whose keys are distinct contract fields, 1 when it is
 * (plain), and 2 when, in addition, every text field was sent as a JSON string (typed). Written with Spark's
 * functions the tests scan the line three times (once per counted character) and search each text field for
 * U+FFFD and for a quote; here one scan counts `}`, `:` and `"`, and notes what the fields could hold: U+FFFD
 * only through a byte above ASCII or an escape, a quote only through an escape.
 *
 * `record` is the line parsed into the contract's fields (ordinals 0 until `corruptOrdinal`) and the parser's
 * corrupt-record column at `corruptOrdinal`; `textOrdinals` are the fields sent as JSON strings (string, date,
 * timestamp), `doubleOrdinals` the doubles.
 */
case class LineGate(
    line: Expression,
    record: Expression,
    textOrdinals: Seq[Int],
    doubleOrdinals: Seq[Int],
    corruptOrdinal: Int) extends BinaryExpression {

  @transient private lazy val texts: Array[Int] = textOrdinals.toArray
  @transient private lazy val doubles: Array[Int] = doubleOrdinals.toArray

  override def left: Expression = line
  override def right: Expression = record
  override def dataType: DataType = IntegerType
  override def nullable: Boolean = false
  override def prettyName: String = "line_gate"

  override def eval(input: InternalRow): Any = LineGate.gate(
    line.eval(input).asInstanceOf[UTF8String], record.eval(input).asInstanceOf[InternalRow], texts, doubles,
    corruptOrdinal)

  override protected def doGenCode(ctx: CodegenContext, ev: ExprCode): ExprCode = {
    val text = line.genCode(ctx)
    val parsed = record.genCode(ctx)
    val texts = ctx.addReferenceObj("textOrdinals", textOrdinals.toArray, "int[]")
    val doubles = ctx.addReferenceObj("doubleOrdinals", doubleOrdinals.toArray, "int[]")
    ev.copy(code = code"""
      ${text.code}
      ${parsed.code}
      int ${ev.value} = org.apache.spark.sql.etl.LineGate.gate(${text.isNull} ? null : ${text.value},
        ${parsed.isNull} ? null : ${parsed.value}, $texts, $doubles, $corruptOrdinal);""", isNull = FalseLiteral)
  }

  override protected def withNewChildrenInternal(newLeft: Expression, newRight: Expression): LineGate =
    copy(line = newLeft, record = newRight)
}

object LineGate {
  val NotPlain = 0
  val Plain = 1
  val Typed = 2
  private val Replacement = UTF8String.fromString("\ufffd")
  private val Ones = 0x0101010101010101L
  private val Low7 = 0x7F7F7F7F7F7F7F7FL
  private val HighBits = 0x8080808080808080L
  private val Braces = Ones * '}'
  private val Colons = Ones * ':'
  private val Quotes = Ones * '"'
  private val Backslashes = Ones * '\\'

  /** The high bit of each byte of `word` that equals the byte repeated in `pattern`, and no other bit. */
  private def matchingBits(word: Long, pattern: Long): Long = {
    val x = word ^ pattern // a zero byte where they match
    ~(((x & Low7) + Low7) | x | Low7) // no carry crosses a byte: exact for every byte
  }

  private def matching(word: Long, pattern: Long): Int = java.lang.Long.bitCount(matchingBits(word, pattern))

  def gate(line: UTF8String, record: InternalRow, texts: Array[Int], doubles: Array[Int], corrupt: Int): Int = {
    if (line == null || record == null || !record.isNullAt(corrupt)) return NotPlain
    val base = line.getBaseObject
    val start = line.getBaseOffset
    val end = start + line.numBytes
    if (line.numBytes < 2 || Platform.getByte(base, start) != '{' || Platform.getByte(base, end - 1) != '}') {
      return NotPlain
    }
    // Eight bytes at a time: a line is some 200 bytes, and a loop of four compares per byte cost more than the
    // three separate counts it replaced.
    var braces, colons, quotes = 0
    var escapes = 0L
    var high = 0L
    var at = start
    while (at + 8 <= end) {
      val word = Platform.getLong(base, at)
      braces += matching(word, Braces)
      colons += matching(word, Colons)
      quotes += matching(word, Quotes)
      escapes |= matchingBits(word, Backslashes)
      high |= word
      at += 8
    }
    while (at < end) {
      val byte = Platform.getByte(base, at)
      if (byte == '}') braces += 1
      else if (byte == ':') colons += 1
      else if (byte == '"') quotes += 1
      else if (byte == '\\') escapes = 1L
      else if (byte < 0) high |= HighBits
      at += 1
    }
    // A text field can hold a quote only through an escape, and U+FFFD only through an escape or a byte above ASCII.
    val escaped = escapes != 0L
    val nonAscii = (high & HighBits) != 0L
    var filled = 0
    var i = 0
    while (i < corrupt) {
      if (!record.isNullAt(i)) filled += 1
      i += 1
    }
    if (braces != 1 || colons != filled) return NotPlain
    var filledTexts = 0
    i = 0
    while (i < texts.length) {
      if (!record.isNullAt(texts(i))) {
        filledTexts += 1
        if ((escaped || nonAscii) && record.getUTF8String(texts(i)).contains(Replacement)) return NotPlain
      }
      i += 1
    }
    if (quotes != (filled + filledTexts) * 2) return Plain
    i = 0
    while (i < texts.length) {
      if (!record.isNullAt(texts(i))) {
        val text = record.getUTF8String(texts(i))
        if (text.numBytes > 0) {
          val first = Platform.getByte(text.getBaseObject, text.getBaseOffset)
          if (first == '[' || first == '{') return Plain
        }
        if (escaped && containsQuote(text)) return Plain
      }
      i += 1
    }
    i = 0
    while (i < doubles.length) {
      if (!record.isNullAt(doubles(i))) {
        val value = record.getDouble(doubles(i))
        if (value.isNaN || value.isInfinite) return Plain
      }
      i += 1
    }
    Typed
  }

  private def containsQuote(text: UTF8String): Boolean = {
    val base = text.getBaseObject
    var at = text.getBaseOffset
    val end = at + text.numBytes
    while (at < end) {
      if (Platform.getByte(base, at) == '"') return true
      at += 1
    }
    false
  }
}
