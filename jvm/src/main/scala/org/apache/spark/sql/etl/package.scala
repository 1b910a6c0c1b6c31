package org.apache.spark.sql

/**
 * The pipeline's own Spark expressions, where Spark's built-in functions cost the JSON check most of its time.
 *
 * In Spark's `sql` package because the JSON parser's options (`JSONOptions`) are private to it.
 */
package object etl
