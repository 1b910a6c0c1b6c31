package org.apache.spark.sql.etl

import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.expressions.{Expression, UnaryExpression}
import org.apache.spark.sql.catalyst.expressions.codegen.CodegenFallback
import org.apache.spark.sql.types.DataType

/**
 * Its child, evaluated by Spark's interpreter instead of generated code.
 *
 * For an expression that is large but rarely evaluated, such as the contract's full check of a line the quick
 * yes did not pass: its generated code would be compiled by Janino, and its hot methods by the JIT, in every new
 * JVM, for lines that mostly never reach it.
 */
case class Interpreted(child: Expression) extends UnaryExpression with CodegenFallback {
  override def dataType: DataType = child.dataType
  override def nullable: Boolean = child.nullable
  override def eval(input: InternalRow): Any = child.eval(input)
  override def prettyName: String = "interpreted"
  override protected def withNewChildInternal(newChild: Expression): Interpreted = copy(child = newChild)
}
