package org.apache.spark.sql.etl

import java.time.YearMonth
import java.util.regex.{Matcher, Pattern}

import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.expressions.{BinaryExpression, Expression}
import org.apache.spark.sql.catalyst.expressions.codegen.CodegenFallback
import org.apache.spark.sql.types.{BooleanType, DataType}
import org.apache.spark.unsafe.Platform
import org.apache.spark.unsafe.types.UTF8String
import org.json4s._
import org.json4s.jackson.JsonMethods

/**
 * Whether a parsed line surely meets every rule of its contract: the quick yes that spares a clean line the
 * contract's checks written with Spark's functions (one CASE of some 30 branches, each evaluated per line).
 * A CSV record is checked the same way on its values' texts (the kinds ending in `_text`); its `typed` is
 * that it holds no quote and as many values as the header (etl.transforms_csv).
 *
 * `typed` is the classification's own byte-level test that the line is one plain object with every string
 * sent as a string (etl.transforms: `_plainly_one_object` and `_strings_sent_as_strings`). On such a line
 * only the field rules can still fail, and they are checked here on the parsed values. The answer is one
 * way only: true means the full check finds no reason; false means "check in full", never "bad". So what
 * this cannot decide exactly (timestamps, decimals, a date format other than fixed-width digits, rules on
 * the text of a non-integer number, a blank-looking text) answers false, and the full check decides.
 */
case class MeetsContract(record: Expression, typed: Expression, rulesJson: String)
  extends BinaryExpression with CodegenFallback {

  @transient private lazy val rules: Array[FieldRule] = FieldRule.parse(rulesJson)

  override def left: Expression = record
  override def right: Expression = typed
  override def dataType: DataType = BooleanType
  override def nullable: Boolean = false
  override def prettyName: String = "meets_contract"

  override def eval(input: InternalRow): Any = {
    val isTyped = typed.eval(input)
    if (isTyped == null || !isTyped.asInstanceOf[Boolean]) return false
    val row = record.eval(input).asInstanceOf[InternalRow]
    if (row == null) return false
    var i = 0
    while (i < rules.length) {
      if (!rules(i).passes(row)) return false
      i += 1
    }
    true
  }

  override protected def withNewChildrenInternal(newLeft: Expression, newRight: Expression): MeetsContract =
    copy(record = newLeft, typed = newRight)
}

/** One field's rules, read from the JSON etl.native writes: where the field is in the parsed struct, and its checks. */
final class FieldRule(
    ordinal: Int,
    // text, int, bigint, double, boolean, or other (decided by the full check whenever present); a CSV value's
    // text to be read as an int, bigint, decimal or boolean: int_text, bigint_text, decimal_text, boolean_text
    kind: String,
    required: Boolean,
    minimum: Option[Double],
    maximum: Option[Double],
    allowed: Option[Set[UTF8String]],
    pattern: Option[Pattern],
    dateLayout: Option[String], // a fixed-width date format of yyyy, MM and dd once each, and separators
    integerDigits: Int, // decimal_text: at most this many digits before the point
    scale: Int, // decimal_text: and this many after it
    undecided: Boolean // a value the full check decides (etl.transforms.fast_rules says which): never a quick yes
) extends Serializable {
  // Beyond 2^53 a long is not exactly a double: the comparison with the bounds is left to the full check.
  private val exactLongs = 1L << 53

  def passes(row: InternalRow): Boolean = {
    if (row.isNullAt(ordinal)) return !required
    if (undecided) return false
    kind match {
      case "text" => textPasses(row.getUTF8String(ordinal))
      case "int" => integerPasses(row.getInt(ordinal).toLong)
      case "bigint" => integerPasses(row.getLong(ordinal))
      case "double" =>
        val value = row.getDouble(ordinal)
        !value.isNaN && !value.isInfinite && inBounds(value) && !textRules
      case "boolean" => !textRules
      case "int_text" => integerTextPasses(row.getUTF8String(ordinal), Int.MinValue, Int.MaxValue)
      case "bigint_text" => integerTextPasses(row.getUTF8String(ordinal), Long.MinValue, Long.MaxValue)
      case "decimal_text" => decimalTextPasses(row.getUTF8String(ordinal))
      case "boolean_text" => !textRules && FieldRule.isBooleanText(row.getUTF8String(ordinal))
      case _ => false
    }
  }

  // Per line and field: plain comparisons, no closure (a missing bound is one no finite value breaks).
  private val lowest = minimum.getOrElse(Double.NegativeInfinity)
  private val highest = maximum.getOrElse(Double.PositiveInfinity)
  private val textRules = allowed.isDefined || pattern.isDefined

  private def inBounds(value: Double): Boolean = value >= lowest && value <= highest

  // A decimal's bounds, exactly as the doubles they were given as: made once per rule, not per value.
  private val lowestDecimal = minimum.map(new java.math.BigDecimal(_))
  private val highestDecimal = maximum.map(new java.math.BigDecimal(_))

  // The text rules read a JSON integer as its digits, a CSV one as it was written.
  private def integerPasses(value: Long, text: UTF8String = null): Boolean =
    value > -exactLongs && value < exactLongs && inBounds(value.toDouble) &&
      (!textRules || textRulesPass(if (text == null) UTF8String.fromString(value.toString) else text))

  private def textPasses(text: UTF8String): Boolean = {
    // Spark's trim removes spaces only; any text of bytes up to 0x20 is left to the full check.
    if (required && FieldRule.blankish(text)) return false
    (dateLayout.isEmpty || FieldRule.isDate(text, dateLayout.get)) && textRulesPass(text)
  }

  // A CSV integer written plainly: an optional sign and up to 18 digits (a long holds them), nothing around it.
  private def integerTextPasses(text: UTF8String, lowestOfType: Long, highestOfType: Long): Boolean = {
    val bytes = text.numBytes
    val first = FieldRule.signWidth(text)
    if (bytes - first < 1 || bytes - first > 18) return false
    var value = 0L
    var i = first
    while (i < bytes) {
      val byte = FieldRule.byteAt(text, i)
      if (!FieldRule.isDigit(byte)) return false
      value = value * 10 + (byte - '0')
      i += 1
    }
    if (FieldRule.byteAt(text, 0) == '-') value = -value
    value >= lowestOfType && value <= highestOfType && integerPasses(value, text)
  }

  // A CSV decimal written plainly: an optional sign, 1 to integerDigits digits, and a point with 1 to scale digits.
  // The bounds are compared exactly, which never passes a value the full check's comparison rejects.
  private def decimalTextPasses(text: UTF8String): Boolean = {
    val bytes = text.numBytes
    val first = FieldRule.signWidth(text)
    var i = first
    while (i < bytes && FieldRule.isDigit(FieldRule.byteAt(text, i))) i += 1
    val whole = i - first
    if (whole < 1 || whole > integerDigits) return false
    if (i < bytes) {
      if (FieldRule.byteAt(text, i) != '.') return false
      val point = i
      i += 1
      while (i < bytes && FieldRule.isDigit(FieldRule.byteAt(text, i))) i += 1
      if (i < bytes || i - point - 1 < 1 || i - point - 1 > scale) return false
    }
    val withinBounds = (lowestDecimal.isEmpty && highestDecimal.isEmpty) || {
      val value = new java.math.BigDecimal(text.toString)
      lowestDecimal.forall(value.compareTo(_) >= 0) && highestDecimal.forall(value.compareTo(_) <= 0)
    }
    withinBounds && textRulesPass(text)
  }

  private def textRulesPass(text: UTF8String): Boolean =
    !textRules || (allowed.forall(_.contains(text)) && (pattern.isEmpty || matches(text)))

  // One matcher per thread and rule, reset for each text: an ASCII text is matched on its bytes as they are,
  // where decoding it into a Java string and a new matcher per value cost a CSV export's five patterns 0.4 s
  // per million records.
  @transient private lazy val matchers = new java.lang.ThreadLocal[(Matcher, AsciiText)] {
    override def initialValue(): (Matcher, AsciiText) = {
      val view = new AsciiText
      (pattern.get.matcher(view), view)
    }
  }

  private def matches(text: UTF8String): Boolean = {
    if (!FieldRule.isAscii(text)) return pattern.get.matcher(text.toString).find()
    val (matcher, view) = matchers.get()
    view.of(text)
    try matcher.reset(view).find()
    finally view.of(UTF8String.EMPTY_UTF8) // the thread keeps no reference to the record's bytes
  }
}

/** An ASCII UTF8String's bytes read as characters, without copying them (for a regular expression to match). */
final class AsciiText extends CharSequence {
  private var base: AnyRef = _
  private var offset = 0L
  private var size = 0

  def of(text: UTF8String): Unit = {
    base = text.getBaseObject
    offset = text.getBaseOffset
    size = text.numBytes
  }

  override def length(): Int = size
  override def charAt(index: Int): Char = (Platform.getByte(base, offset + index) & 0xff).toChar
  override def subSequence(start: Int, end: Int): CharSequence = toString.substring(start, end)
  override def toString: String = {
    val chars = new Array[Char](size)
    var i = 0
    while (i < size) {
      chars(i) = charAt(i)
      i += 1
    }
    new String(chars)
  }
}

object FieldRule {
  implicit private val formats: Formats = DefaultFormats

  /** The rules etl.native.meets_contract writes: a JSON array of one object per contract field. */
  def parse(json: String): Array[FieldRule] = JsonMethods.parse(json).children.map { field =>
    // json4s reads a missing list as an empty one: each optional key is looked for first.
    def optional(key: String): Option[JValue] = field \ key match {
      case JNothing | JNull => None
      case value => Some(value)
    }
    new FieldRule(
      ordinal = (field \ "ordinal").extract[Int],
      kind = (field \ "kind").extract[String],
      required = (field \ "required").extract[Boolean],
      minimum = optional("minimum").map(_.extract[Double]),
      maximum = optional("maximum").map(_.extract[Double]),
      allowed = optional("allowed").map(_.extract[List[String]].map(UTF8String.fromString).toSet),
      // The full check's own expression (rlike of ^(?:pattern)\z), so both match the same texts.
      pattern = optional("pattern").map(p => Pattern.compile(s"^(?:${p.extract[String]})\\z")),
      dateLayout = optional("date_layout").map(_.extract[String]),
      integerDigits = optional("integer_digits").map(_.extract[Int]).getOrElse(0),
      scale = optional("scale").map(_.extract[Int]).getOrElse(0),
      undecided = optional("undecided").exists(_.extract[Boolean]))
  }.toArray

  def byteAt(text: UTF8String, i: Int): Byte = Platform.getByte(text.getBaseObject, text.getBaseOffset + i)

  def isDigit(byte: Byte): Boolean = byte >= '0' && byte <= '9'

  def isAscii(text: UTF8String): Boolean = {
    var i = 0
    val bytes = text.numBytes
    while (i < bytes) {
      if (byteAt(text, i) < 0) return false
      i += 1
    }
    true
  }

  /** 1 when the text starts with a sign (+ or -), else 0: where a number's digits start. */
  def signWidth(text: UTF8String): Int =
    if (text.numBytes > 0 && (byteAt(text, 0) == '-' || byteAt(text, 0) == '+')) 1 else 0

  /** "true" or "false" in any case, nothing around it: what the full check reads as a boolean. */
  def isBooleanText(text: UTF8String): Boolean = {
    val word = text.toString
    word.equalsIgnoreCase("true") || word.equalsIgnoreCase("false")
  }

  def blankish(text: UTF8String): Boolean = {
    var i = 0
    val bytes = text.numBytes
    while (i < bytes) {
      if ((byteAt(text, i) & 0xff) > 0x20) return false
      i += 1
    }
    true
  }

  /**
   * Whether `text` is a real calendar date written exactly in `layout` (yyyy, MM and dd once each, ASCII digits,
   * every other character as in the layout), with a year from 1: what the full check accepts, and no more.
   */
  def isDate(text: UTF8String, layout: String): Boolean = {
    if (text.numBytes != layout.length) return false
    var year, month, day = 0
    var i = 0
    while (i < layout.length) {
      val byte = byteAt(text, i)
      layout.charAt(i) match {
        case 'y' | 'M' | 'd' =>
          if (byte < '0' || byte > '9') return false
          val digit = byte - '0'
          layout.charAt(i) match {
            case 'y' => year = year * 10 + digit
            case 'M' => month = month * 10 + digit
            case _ => day = day * 10 + digit
          }
        case separator => if (byte != separator.toByte) return false
      }
      i += 1
    }
    year >= 1 && month >= 1 && month <= 12 && day >= 1 && day <= YearMonth.of(year, month).lengthOfMonth()
  }
}
