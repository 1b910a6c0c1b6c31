package org.apache.spark.sql.etl

import scala.util.control.NonFatal

import com.fasterxml.jackson.core.{JsonFactory, JsonParser, JsonToken}

import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.expressions.{Expression, GenericInternalRow, JsonToStructs}
import org.apache.spark.sql.catalyst.json.{CreateJacksonParser, JacksonParser, JSONOptions}
import org.apache.spark.sql.catalyst.util.{FailureSafeParser, ResolveDefaultColumns}
import org.apache.spark.sql.types.{DataType, StructType}
import org.apache.spark.unsafe.Platform
import org.apache.spark.unsafe.types.UTF8String

/**
 * Spark's `from_json` into a struct, parsing a line's UTF-8 bytes instead of characters decoded from them.
 *
 * `from_json` hands Jackson an `InputStreamReader` per line; Spark's JSON file source hands it the bytes,
 * which Jackson parses faster (1.0 s against 1.8 s per million lines, warm, 2 cores). Both read the same
 * tokens from valid UTF-8, and only valid UTF-8 reaches the byte parser: a line that is not strictly valid
 * UTF-8 (a stray byte, an overlong form, an encoded surrogate), or that holds a NUL byte (from which Jackson
 * would guess UTF-16 or UTF-32), is read through the character stream exactly as `from_json` reads it. So
 * the result is `from_json`'s for every line. (RootObjects, below, spares the usual line a cost of Spark's parser.)
 */
class Utf8JsonToStructs(
    schema: DataType,
    options: Map[String, String],
    child: Expression,
    timeZoneId: Option[String])
  extends JsonToStructs(schema, options, child, timeZoneId) {

  require(schema.isInstanceOf[StructType], s"Utf8JsonToStructs reads a line into a struct, not $schema")

  @transient override lazy val parser: FailureSafeParser[UTF8String] = {
    val parsed = new JSONOptions(options, timeZoneId.get, nameOfCorruptRecord)
    val struct = nullableSchema.asInstanceOf[StructType]
    val fields = StructType(struct.filterNot(_.name == parsed.columnNameOfCorruptRecord))
    val objects = new RootObjects(fields, parsed)
    new FailureSafeParser[UTF8String](objects.parse, parsed.parseMode, struct, parsed.columnNameOfCorruptRecord)
  }

  override def copy(
      schema: DataType = schema,
      options: Map[String, String] = options,
      child: Expression = child,
      timeZoneId: Option[String] = timeZoneId): JsonToStructs =
    new Utf8JsonToStructs(schema, options, child, timeZoneId)

  override def canEqual(other: Any): Boolean = other.isInstanceOf[Utf8JsonToStructs]

  override def equals(other: Any): Boolean = other match {
    case that: Utf8JsonToStructs => that.canEqual(this) && super.equals(that)
    case _ => false
  }

  override def hashCode(): Int = super.hashCode() * 31 + 1

  override def prettyName: String = "from_json_utf8"
}

/**
 * Spark's JacksonParser.parse of a line into `schema`, with a shorter way for a line that holds one object whose
 * values all convert: the same loop over its fields and the same converters, without the lookup of column default
 * values that Spark 3.5 makes three times per object (mapping over the schema's fields each time: some 7% of the
 * JSON job). The contract's schema has no default values; a schema with any always takes Spark's way. Any other
 * line (not an object, malformed, a value that does not convert) is parsed again by Spark's own parser, which
 * decides its result or its error as `from_json` would.
 */
final class RootObjects(schema: StructType, options: JSONOptions) {
  private val jackson = new JacksonParser(schema, options, allowArrayAsStructs = false)
  private val converters = schema.map(field => jackson.makeConverter(field.dataType)).toArray
  // A schema with two fields of one name, or with default values, always takes Spark's way.
  private val shortWay = !ResolveDefaultColumns.hasExistenceDefaultValues(schema) &&
    schema.fieldNames.distinct.length == schema.length
  private val indices = {
    val byName = new java.util.HashMap[String, Integer]()
    schema.fieldNames.zipWithIndex.foreach { case (name, index) => byName.put(name, index) }
    byName
  }
  private val factory = options.buildJsonFactory() // as JacksonParser builds its own

  def parse(line: UTF8String): Iterable[InternalRow] = {
    val row = if (shortWay) { try oneObject(line) catch { case NonFatal(_) => null } } else null
    if (row != null) row :: Nil else jackson.parse(line, Utf8JsonToStructs.createParser, identity[UTF8String])
  }

  /** The line's object as JacksonParser's convertObject builds it at the root; null when Spark must decide. */
  private def oneObject(line: UTF8String): InternalRow = {
    val parser = Utf8JsonToStructs.createParser(factory, line)
    try {
      if (parser.nextToken() != JsonToken.START_OBJECT) return null
      val row = new GenericInternalRow(converters.length)
      var token = parser.nextToken()
      while (token != null && token != JsonToken.END_OBJECT) {
        val index = indices.get(parser.currentName)
        if (index != null) row.update(index, converters(index).apply(parser)) else parser.skipChildren()
        token = parser.nextToken()
      }
      row
    } finally {
      parser.close()
    }
  }
}

object Utf8JsonToStructs {
  def createParser(factory: JsonFactory, line: UTF8String): JsonParser = line.getBaseObject match {
    case bytes: Array[Byte] =>
      val start = (line.getBaseOffset - Platform.BYTE_ARRAY_OFFSET).toInt
      if (isStrictUtf8WithoutNul(bytes, start, start + line.numBytes)) {
        factory.createParser(bytes, start, line.numBytes)
      } else {
        CreateJacksonParser.utf8String(factory, line)
      }
    case _ => CreateJacksonParser.utf8String(factory, line)
  }

  /** Whether `bytes(start until end)` is UTF-8 as Java's decoder accepts it, and holds no NUL byte. */
  def isStrictUtf8WithoutNul(bytes: Array[Byte], start: Int, end: Int): Boolean = {
    var at = start
    while (at < end) {
      val byte = bytes(at)
      if (byte > 0) {
        at += 1
      } else if (byte == 0) {
        return false
      } else {
        val lead = byte & 0xFF
        var low = 0x80
        var high = 0xBF
        val following =
          if (lead >= 0xC2 && lead <= 0xDF) 1
          else if (lead >= 0xE0 && lead <= 0xEF) {
            if (lead == 0xE0) low = 0xA0 // shorter forms are overlong
            if (lead == 0xED) high = 0x9F // U+D800 to U+DFFF are surrogates, not characters
            2
          } else if (lead >= 0xF0 && lead <= 0xF4) {
            if (lead == 0xF0) low = 0x90
            if (lead == 0xF4) high = 0x8F // above U+10FFFF
            3
          } else {
            return false
          }
        if (at + following >= end) return false // cut short
        val second = bytes(at + 1) & 0xFF
        if (second < low || second > high) return false
        var k = 2
        while (k <= following) {
          val next = bytes(at + k) & 0xFF
          if (next < 0x80 || next > 0xBF) return false
          k += 1
        }
        at += following + 1
      }
    }
    true
  }
}
