package org.apache.spark.sql.etl

import org.apache.spark.sql.{DataFrame, Dataset}
import org.apache.spark.sql.catalyst.plans.logical.LocalRelation
import org.apache.spark.sql.execution.SQLExecution

/** This library's DataFrame helpers, for PySpark (which reaches them through its JVM gateway). */
object Frames {
  /**
   * `frame`'s rows, computed now, in a frame whose plan holds them (a local relation).
   *
   * For a few rows that a large plan is then applied to, such as the contract's full check of a file's held
   * lines: Spark's optimizer evaluates projections and filters of a local relation itself, on the driver
   * (ConvertToLocalRelation), so that plan is neither compiled nor shipped to a task.
   */
  def computedNow(frame: DataFrame): DataFrame = {
    val execution = frame.queryExecution
    val rows = SQLExecution.withNewExecutionId(execution, Some("computedNow")) {
      execution.executedPlan.executeCollect()
    }
    Dataset.ofRows(frame.sparkSession, LocalRelation(execution.analyzed.output, rows.toSeq))
  }
}
