"""Queries: SELECT, WITH, set operations, VALUES, FROM and JOIN, GROUP BY, ORDER BY, LIMIT."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from etl.athena.core import TranslatorCore
from etl.athena.results import BIGINT, UNKNOWN, SqlType, common_super_type
from etl.athena.statements import _refuse_trailing_commas, _typed_literal_starts
from etl.athena.translation import (
    _CLAUSE_NAMES,
    _SELECT_ARGS,
    _SETOP_ARGS,
    AthenaSql,
    OutputColumn,
    TableVersion,
    Translation,
    Typed,
    _call,
    _cast,
    _Ctx,
    _func_name,
    _ident,
    _number,
    _Relation,
    _renamed_outputs,
    _Scope,
    _set,
    invalid,
    refuse,
)
from etl.errors import QueryError

logger = logging.getLogger(__name__)


class Queries(TranslatorCore):
    """The statement and its clauses; every expression goes to ``_expr``."""

    def translate(self, sql: str, parameters: Sequence[Any] | None = None) -> Translation:
        self._parameters = list(parameters or [])
        self._bound, self._placeholders, self._used, self._aliases = [], 0, [], 0
        self._typed_literals = _typed_literal_starts(sql)
        self._source_sql = sql
        try:
            _refuse_trailing_commas(sql)
            statements = [s for s in sqlglot.parse(sql, read=AthenaSql) if s is not None]
        except (ParseError, TokenError) as exc:
            raise QueryError(f"syntax error: {str(exc).splitlines()[0]}") from exc
        if len(statements) != 1:
            raise QueryError(f"a query must be exactly one statement, got {len(statements)}")
        root = statements[0]
        if not isinstance(root, (exp.Select, exp.SetOperation, exp.Values, exp.Subquery)):
            raise refuse(
                f"{root.key.upper()} statement", "only SELECT, WITH ... SELECT and VALUES queries run locally"
            )
        node, columns = self._query(root, None, {})
        if self._placeholders != len(self._parameters):
            raise QueryError(
                f"the query has {self._placeholders} ? placeholders but {len(self._parameters)} "
                "parameters were given"
            )
        unsupported = [c for c in columns if c.type is None]
        if unsupported:
            raise refuse(
                f"column {unsupported[0].name} of type {unsupported[0].glue_type}",
                "complex and binary types are not supported by the local engine",
            )
        duck_sql = node.sql(dialect="duckdb")
        logger.debug("athena -> duckdb: %s", duck_sql)
        return Translation(
            sql=duck_sql, columns=[c.name for c in columns],
            types=[c.type for c in columns if c.type is not None], tables=list(dict.fromkeys(self._used)),
            parameters=list(self._bound), versions=list(self._versions),
        )

    def _query(
        self, node: exp.Expr, parent: _Scope | None, ctes: dict[str, list[OutputColumn]]
    ) -> tuple[exp.Expr, list[OutputColumn]]:
        if isinstance(node, exp.Select):
            return self._select(node, parent, ctes)
        if isinstance(node, exp.SetOperation):
            return self._set_operation(node, parent, ctes)
        if isinstance(node, exp.Values):
            values, columns = self._values(node, parent, ctes)
            return values, columns
        if isinstance(node, exp.Subquery):
            extra = [k for k, v in node.args.items() if k != "this" and _set(v)]
            if extra:
                raise refuse(_CLAUSE_NAMES.get(extra[0], extra[0].upper()) + " on a parenthesised query")
            inner, columns = self._query(node.this, parent, ctes)
            return exp.Subquery(this=inner), columns
        raise refuse(_func_name(node))

    def _with(
        self, node: exp.With | None, parent: _Scope | None, ctes: dict[str, list[OutputColumn]]
    ) -> tuple[exp.With | None, dict[str, list[OutputColumn]]]:
        if node is None:
            return None, ctes
        if node.args.get("recursive"):
            raise refuse("WITH RECURSIVE")
        visible = dict(ctes)
        new_ctes = []
        for cte in node.expressions:
            if not isinstance(cte, exp.CTE) or any(
                _set(v) for k, v in cte.args.items() if k not in ("this", "alias")
            ):
                raise refuse("WITH clause option")
            name = cte.alias.lower()
            query, columns = self._query(cte.this, parent, visible)
            alias_columns = (
                [c.name.lower() for c in cte.args["alias"].columns] if cte.args.get("alias") else []
            )
            columns = self._renamed(columns, alias_columns, f"WITH {name}")
            visible[name] = columns
            new_ctes.append(
                exp.CTE(
                    this=query,
                    alias=exp.TableAlias(this=_ident(name), columns=[_ident(c.name) for c in columns]),
                )
            )
        return exp.With(expressions=new_ctes), visible

    @staticmethod
    def _renamed(columns: list[OutputColumn], names: list[str], where: str) -> list[OutputColumn]:
        if not names:
            return columns
        if len(names) != len(columns):
            raise invalid(f"{where} names {len(names)} columns but its query has {len(columns)}")
        return [replace(c, name=n) for c, n in zip(columns, names, strict=True)]

    def _select(
        self, select: exp.Select, parent: _Scope | None, ctes: dict[str, list[OutputColumn]]
    ) -> tuple[exp.Select, list[OutputColumn]]:
        self._check_args(select, _SELECT_ARGS)
        with_node, ctes = self._with(select.args.get("with_"), parent, ctes)
        scope = _Scope(relations=[], parent=parent, ctes=ctes)
        new = exp.Select()
        if with_node is not None:
            new.set("with_", with_node)
        if select.args.get("from_"):
            new.set("from_", exp.From(this=self._source(select.args["from_"].this, scope)))
            joins = [self._join(join, scope) for join in select.args.get("joins") or []]
            if joins:
                new.set("joins", joins)
        plain = _Ctx(scope)
        if select.args.get("where"):
            condition = self._boolean(select.args["where"].this, plain, "WHERE")
            new.set("where", exp.Where(this=condition))
        if select.args.get("group"):
            new.set("group", self._group(select.args["group"], plain))
        full = _Ctx(scope, aggregates=True, windows=True)
        projections, columns = self._projections(select.expressions, scope, full)
        new.set("expressions", projections)
        distinct = select.args.get("distinct")
        if distinct is not None:
            if distinct.args.get("on"):
                raise refuse("DISTINCT ON")
            new.set("distinct", exp.Distinct())
        if select.args.get("having"):
            new.set(
                "having",
                exp.Having(
                    this=self._boolean(select.args["having"].this, _Ctx(scope, aggregates=True), "HAVING")
                ),
            )
        if select.args.get("order"):
            new.set("order", self._order(select.args["order"], columns, full, _renamed_outputs(select)))
        self._limits(select, new)
        return new, columns

    def _projections(
        self, items: list[exp.Expr], scope: _Scope, ctx: _Ctx
    ) -> tuple[list[exp.Expr], list[OutputColumn]]:
        projections: list[exp.Expr] = []
        columns: list[OutputColumn] = []
        for item in items:
            if isinstance(item, exp.Star) or (
                isinstance(item, exp.Column) and isinstance(item.this, exp.Star)
            ):
                for relation, column in self._star(item, scope):
                    if column.type is None:
                        raise refuse(
                            f"column {column.name} of type {column.glue_type}",
                            "complex and binary types are not supported by the local engine",
                        )
                    projections.append(
                        exp.alias_(
                            exp.column(_ident(column.name), table=_ident(relation.alias)), _ident(column.name)
                        )
                    )
                    columns.append(column)
                continue
            name = None
            inner = item
            if isinstance(item, exp.Alias):
                identifier = item.args["alias"]
                name = identifier.name if identifier.quoted else identifier.name.lower()
                inner = item.this
            typed = self._expr(inner, ctx)
            if name is None:
                name = inner.name.lower() if isinstance(inner, exp.Column) else f"_col{len(columns)}"
            projections.append(exp.alias_(typed.node, _ident(name)))
            columns.append(OutputColumn(name, typed.type))
        return projections, columns

    def _star(self, item: exp.Expr, scope: _Scope) -> list[tuple[_Relation, OutputColumn]]:
        if scope.using:
            raise refuse("SELECT * with JOIN ... USING", "the column order of USING joins differs")
        if isinstance(item, exp.Column):
            alias = item.table.lower()
            relations = [r for r in scope.relations if r.alias == alias]
            if not relations:
                raise invalid(f"table {item.table} in {item.sql(dialect='trino')} is not in the FROM clause")
        else:
            relations = scope.relations
            if not relations:
                raise invalid("SELECT * needs a FROM clause")
        return [(r, c) for r in relations for c in r.columns]

    def _limits(self, source: exp.Expr, new: exp.Expr) -> None:
        limit = source.args.get("limit")
        if isinstance(limit, exp.Fetch):
            options = limit.args.get("limit_options")
            if options is not None and (options.args.get("with_ties") or options.args.get("percent")):
                raise refuse("FETCH FIRST ... WITH TIES / PERCENT")
            count = limit.args.get("count")
            new.set("limit", exp.Limit(expression=_number(self._row_count(count) if count else 1)))
        elif isinstance(limit, exp.Limit):
            value = limit.expression
            if not (isinstance(value, exp.Var) and value.name.upper() == "ALL"):
                new.set("limit", exp.Limit(expression=_number(self._row_count(value))))
        elif limit is not None:
            raise refuse("LIMIT form")
        offset = source.args.get("offset")
        if offset is not None:
            new.set("offset", exp.Offset(expression=_number(self._row_count(offset.expression))))

    @staticmethod
    def _row_count(node: exp.Expr) -> int:
        if isinstance(node, exp.Literal) and not node.is_string and node.this.isdigit():
            return int(node.this)
        raise refuse("LIMIT/OFFSET that is not an integer literal")

    def _set_operation(
        self, node: exp.SetOperation, parent: _Scope | None, ctes: dict[str, list[OutputColumn]]
    ) -> tuple[exp.Expr, list[OutputColumn]]:
        self._check_args(node, _SETOP_ARGS)
        with_node, ctes = self._with(node.args.get("with_"), parent, ctes)
        left, left_columns = self._query(node.this, parent, ctes)
        right, right_columns = self._query(node.expression, parent, ctes)
        word = node.key.upper()
        if len(left_columns) != len(right_columns):
            raise invalid(f"{word} of queries with {len(left_columns)} and {len(right_columns)} columns")
        unified = []
        for index, (a, b) in enumerate(zip(left_columns, right_columns, strict=True)):
            if a.type is None or b.type is None:
                raise refuse(f"{word} of a {a.glue_type or b.glue_type} column")
            common = common_super_type(a.type, b.type)
            if common is None:
                raise invalid(f"column {index + 1} of {word} has incompatible types {a.type} and {b.type}")
            unified.append(common)
        left = self._cast_shape(left, left_columns, unified)
        right = self._cast_shape(right, right_columns, unified)
        columns = [OutputColumn(c.name, t) for c, t in zip(left_columns, unified, strict=True)]
        new = type(node)(this=left, expression=right, distinct=bool(node.args.get("distinct")))
        if with_node is not None:
            new.set("with_", with_node)
        if node.args.get("order"):
            new.set("order", self._order(node.args["order"], columns, None))
        self._limits(node, new)
        return new, columns

    def _cast_shape(self, query: exp.Expr, columns: list[OutputColumn], targets: list[SqlType]) -> exp.Expr:
        """``query`` with its columns cast to ``targets`` (wrapped in a SELECT when a cast is needed)."""
        if all(c.type == t for c, t in zip(columns, targets, strict=True)):
            return query
        alias = self._fresh_alias("_cast")
        names = [f"c{i}" for i in range(len(columns))]
        projections = []
        for column, target, inner in zip(columns, targets, names, strict=True):
            reference = exp.column(_ident(inner), table=_ident(alias))
            node = reference if column.type == target else _cast(reference, target.duck)
            projections.append(exp.alias_(node, _ident(column.name)))
        source = exp.Subquery(
            this=query, alias=exp.TableAlias(this=_ident(alias), columns=[_ident(n) for n in names])
        )
        return exp.Select(expressions=projections, from_=exp.From(this=source))

    def _fresh_alias(self, prefix: str) -> str:
        self._aliases += 1
        return f"{prefix}{self._aliases}"

    def _values(
        self, node: exp.Values, parent: _Scope | None, ctes: dict[str, list[OutputColumn]]
    ) -> tuple[exp.Expr, list[OutputColumn]]:
        self._check_args(node, {"expressions", "alias"})
        ctx = _Ctx(_Scope(relations=[], parent=parent, ctes=ctes))
        rows: list[list[Typed]] = []
        for row in node.expressions:
            cells = row.expressions if isinstance(row, exp.Tuple) else [row]
            rows.append([self._expr(cell, ctx) for cell in cells])
        width = len(rows[0])
        if any(len(row) != width for row in rows):
            raise invalid("VALUES rows have different numbers of columns")
        types: list[SqlType] = []
        for index in range(width):
            column_type = UNKNOWN
            for row in rows:
                common = common_super_type(column_type, row[index].type)
                if common is None:
                    raise invalid(f"VALUES column {index + 1} mixes {column_type} and {row[index].type}")
                column_type = common
            types.append(column_type)
        tuples = [
            exp.Tuple(expressions=[self._coerce(cell, t).node for cell, t in zip(row, types, strict=True)])
            for row in rows
        ]
        alias = node.args.get("alias")
        names = [c.name.lower() for c in alias.columns] if alias is not None and alias.columns else []
        columns = self._renamed([OutputColumn(f"_col{i}", t) for i, t in enumerate(types)], names, "VALUES")
        new = exp.Values(expressions=tuples)
        if alias is not None:
            new.set(
                "alias",
                exp.TableAlias(this=_ident(alias.name.lower()), columns=[_ident(c.name) for c in columns]),
            )
        return new, columns

    def _source(self, node: exp.Expr, scope: _Scope) -> exp.Expr:
        if isinstance(node, exp.Table):
            return self._table(node, scope)
        if isinstance(node, exp.Subquery):
            self._check_args(node, {"this", "alias"})
            query, columns = self._query(node.this, None, scope.ctes)
            alias_node = node.args.get("alias")
            alias = (
                alias_node.name.lower()
                if alias_node is not None and alias_node.name
                else self._fresh_alias("_q")
            )
            names = [c.name.lower() for c in alias_node.columns] if alias_node is not None else []
            columns = self._renamed(columns, names, f"subquery {alias}")
            scope.relations.append(_Relation(alias, columns))
            return exp.Subquery(
                this=query,
                alias=exp.TableAlias(this=_ident(alias), columns=[_ident(c.name) for c in columns]),
            )
        if isinstance(node, exp.Values):
            values, columns = self._values(node, None, scope.ctes)
            alias_node = node.args.get("alias")
            alias = (
                alias_node.name.lower()
                if alias_node is not None and alias_node.name
                else self._fresh_alias("_v")
            )
            values.set("alias", exp.TableAlias(this=_ident(alias), columns=[_ident(c.name) for c in columns]))
            scope.relations.append(_Relation(alias, columns))
            return values
        if isinstance(node, exp.Unnest):
            return self._unnest(node, scope)
        raise refuse(_func_name(node))

    def _unnest(self, node: exp.Unnest, scope: _Scope) -> exp.Expr:
        """``UNNEST(a [, b ...]) [WITH ORDINALITY] AS t(x [, y ...] [, n])``: a row per element.

        Its arguments may name the columns of the relations before it in the FROM clause (a lateral
        join, as Trino reads ``t CROSS JOIN UNNEST(t.tags)``). Several arrays are read side by side, the
        shorter ones padded with NULLs; a NULL array is an empty one; the ordinality counts from 1.
        DuckDB's ``unnest`` in one SELECT list does the same, so each becomes a lateral subquery.
        """
        self._check_args(node, {"expressions", "alias", "offset"})
        ctx = _Ctx(scope)
        arrays = [self._expr(argument, ctx) for argument in node.expressions]
        for array in arrays:
            if array.type.is_unknown or (array.type.is_array and array.type.element.is_unknown):
                raise refuse("UNNEST of NULL or of an empty ARRAY[]", "the element type is ambiguous")
            if array.type.is_map:
                raise refuse("UNNEST of a map")
            if not array.type.is_array:
                raise invalid(f"UNNEST needs an array, not {array.type}")
        alias_node = node.args.get("alias")
        alias = alias_node.name.lower() if alias_node is not None and alias_node.name else self._fresh_alias("_u")
        names = [c.name.lower() for c in alias_node.columns] if alias_node is not None else []
        columns = [OutputColumn(f"_col{i}", array.type.element) for i, array in enumerate(arrays)]
        items = [exp.alias_(_call("unnest", array.node), f"_col{i}") for i, array in enumerate(arrays)]
        ordinality = node.args.get("offset")
        if ordinality:
            if isinstance(ordinality, exp.Identifier):
                names = [*names, ordinality.name.lower()] if names else []
            longest = _call("greatest", *[_call("len", array.node.copy()) for array in arrays])
            columns.append(OutputColumn("ordinality", BIGINT))
            items.append(exp.alias_(_call("unnest", _call("generate_series", _number(1), longest)), "ordinality"))
        columns = self._renamed(columns, names, f"UNNEST {alias}")
        scope.relations.append(_Relation(alias, columns))
        return exp.Subquery(
            this=exp.Select(expressions=items),
            alias=exp.TableAlias(this=_ident(alias), columns=[_ident(c.name) for c in columns]),
        )

    def _table(self, node: exp.Table, scope: _Scope) -> exp.Expr:
        self._check_args(node, {"this", "db", "catalog", "alias", "version"})
        catalog = node.catalog.lower()
        if catalog and catalog != "awsdatacatalog":
            raise refuse(f"catalog {node.catalog}", "only the AwsDataCatalog is available locally")
        name, db = node.name.lower(), node.db.lower()
        alias_node = node.args.get("alias")
        alias = alias_node.name.lower() if alias_node is not None and alias_node.name else name
        renames = [c.name.lower() for c in alias_node.columns] if alias_node is not None else []
        if not db and name in scope.ctes:
            columns = self._renamed(scope.ctes[name], renames, f"table {name}")
            new: exp.Expr = exp.Table(this=_ident(name))
        else:
            key = (db or self._default_database, name)
            if key not in self._tables:
                raise QueryError(self._missing_table_message(*key))
            self._used.append(key)
            columns = self._renamed(self._tables[key], renames, f"table {key[0]}.{name}")
            version = node.args.get("version")
            view = self._table_version(key, version) if version is not None else name
            new = exp.Table(this=_ident(view), db=_ident(key[0]))
        new.set("alias", exp.TableAlias(this=_ident(alias), columns=[_ident(c) for c in renames]))
        scope.relations.append(_Relation(alias, columns))
        return new

    def _table_version(self, key: tuple[str, str], version: exp.Version) -> str:
        """``FOR VERSION AS OF id`` / ``FOR TIMESTAMP AS OF moment``: a view of the table at that snapshot.

        The id or moment is a constant expression, evaluated before the query by the local Athena.
        """
        kind = version.name.upper()
        if kind not in ("VERSION", "TIMESTAMP") or (version.args.get("kind") or "").upper() != "AS OF":
            raise refuse(f"FOR {kind} {version.args.get('kind')}", "only FOR VERSION AS OF and FOR TIMESTAMP AS OF")
        if version.expression.find(exp.Column, exp.Placeholder, exp.Subquery) is not None:
            raise invalid(f"FOR {kind} AS OF takes a constant expression, not a column, parameter or subquery")
        value = self._expr(version.expression, _Ctx(_Scope(relations=[], parent=None, ctes={})))
        if kind == "VERSION" and not value.type.is_integral:
            raise invalid(f"FOR VERSION AS OF takes a snapshot id (bigint), not {value.type}")
        if kind == "TIMESTAMP" and value.type.base not in ("timestamp", "date"):
            raise invalid(f"FOR TIMESTAMP AS OF takes a timestamp, not {value.type}")
        view = f"{key[1]}@{len(self._versions)}"
        self._versions.append(TableVersion(key[0], key[1], view, kind, value.node.sql(dialect="duckdb")))
        return view

    def _missing_table_message(self, db: str, name: str) -> str:
        available = sorted(f"{d}.{t}" for d, t in self._tables if d == db) or sorted(
            f"{d}.{t}" for d, t in self._tables
        )
        if not available:
            return (f"table {db}.{name} does not exist: no table yet; the pipeline catalogs its tables as it runs, "
                    "so process a file first (`etl run FILE` or `etl generate` then `etl run`)")
        return f"table {db}.{name} does not exist; tables available: {', '.join(available)}; `etl tables` lists them"

    def _join(self, join: exp.Join, scope: _Scope) -> exp.Join:
        self._check_args(join, {"this", "on", "using", "kind", "side"})
        kind = (join.args.get("kind") or "").upper()
        side = (join.args.get("side") or "").upper()
        if kind not in ("", "INNER", "OUTER", "CROSS") or side not in ("", "LEFT", "RIGHT", "FULL"):
            raise refuse(f"{side} {kind} JOIN".strip())
        before = list(scope.relations)
        source = self._source(join.this, scope)
        new = exp.Join(this=source)
        if kind:
            new.set("kind", kind)
        if side:
            new.set("side", side)
        using = join.args.get("using")
        if using:
            new.set(
                "using", [self._using_column(identifier, before, scope.relations[-1]) for identifier in using]
            )
            scope.using = True
        if join.args.get("on") is not None:
            new.set("on", self._boolean(join.args["on"], _Ctx(scope), "JOIN ... ON"))
        return new

    @staticmethod
    def _using_column(identifier: exp.Expr, left: list[_Relation], right: _Relation) -> exp.Identifier:
        name = identifier.name.lower()
        left_types = [c.type for r in left for c in r.columns if c.name == name]
        right_types = [c.type for c in right.columns if c.name == name]
        if len(left_types) != 1 or len(right_types) != 1:
            raise invalid(f"column {name} in USING must exist once on each side of the join")
        if left_types[0] != right_types[0]:
            raise refuse(f"JOIN ... USING ({name}) between {left_types[0]} and {right_types[0]}")
        return _ident(name)

    def _group(self, group: exp.Group, ctx: _Ctx) -> exp.Group:
        self._check_args(group, {"expressions"})

        def item(node: exp.Expr) -> exp.Expr:
            if isinstance(node, exp.Literal) and not node.is_string:
                return _number(self._row_count(node))
            if isinstance(node, (exp.Rollup, exp.Cube, exp.GroupingSets)):
                return type(node)(expressions=[item(e) for e in node.expressions])
            if isinstance(node, exp.Tuple):
                return exp.Tuple(expressions=[item(e) for e in node.expressions])
            if isinstance(node, exp.Paren):
                return exp.Paren(this=item(node.this))
            return self._expr(node, ctx).node

        return exp.Group(expressions=[item(e) for e in group.expressions])

    def _order(
        self,
        order: exp.Order,
        columns: list[OutputColumn],
        ctx: _Ctx | None,
        renamed: frozenset[str] = frozenset(),
    ) -> exp.Order:
        """ORDER BY: ordinals and output names become ordinals; anything else is an expression.

        ``renamed`` are output names that are not the input column of that name: Trino resolves them
        inside ORDER BY expressions to the output column, which is refused rather than guessed.
        """
        self._check_args(order, {"expressions"})
        names = [c.name.lower() for c in columns]
        items = []
        for ordered in order.expressions:
            target = ordered.this
            if not columns and isinstance(target, exp.Literal):
                raise refuse("window ORDER BY a constant")
            shadowed = {c.name.lower() for c in target.find_all(exp.Column) if not c.table} & renamed
            if shadowed and not isinstance(target, exp.Column):
                raise refuse(f"ORDER BY expression using the output name {sorted(shadowed)[0]}",
                             "Trino resolves it to the output column")
            if isinstance(target, exp.Literal) and not target.is_string:
                position = self._row_count(target)
                if not 1 <= position <= len(columns):
                    raise invalid(f"ORDER BY position {position} is not in the select list")
                node: exp.Expr = _number(position)
            elif (
                isinstance(target, exp.Column) and not target.table and names.count(target.name.lower()) == 1
            ):
                node = _number(names.index(target.name.lower()) + 1)
            elif ctx is None:
                raise invalid(
                    f"ORDER BY {target.sql(dialect='trino')} must name an output column of the query"
                )
            else:
                node = self._expr(target, ctx).node
            items.append(
                exp.Ordered(
                    this=node, desc=bool(ordered.args.get("desc")),
                    nulls_first=bool(ordered.args.get("nulls_first")),
                )
            )
        return exp.Order(expressions=items)

