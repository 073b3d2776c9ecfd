/**
 * A T-SQL syntax check: the ANTLR grammar for SQL Server (grammars-v4's TSql, compiled by
 * antlr4ts-sql). It knows the syntax only, not the catalogue: a misspelt column passes,
 * a missing parenthesis or a clause in the wrong place does not. The grammar's keywords
 * are upper case, so the text is upper-cased first (string contents do not matter here).
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

interface ErrorListener {
  syntaxError(recognizer: unknown, symbol: unknown, line: number, column: number, message: string): void;
}
interface Recognizer {
  removeErrorListeners(): void;
  addErrorListener(listener: ErrorListener): void;
}

const { CharStreams, CommonTokenStream } = require('antlr4ts') as {
  CharStreams: { fromString(text: string): unknown };
  CommonTokenStream: new (lexer: unknown) => unknown;
};
const { TSqlLexer } = require('antlr4ts-sql/dist/src/grammar-output/tsql/TSqlLexer.js') as { TSqlLexer: new (input: unknown) => Recognizer };
const { TSqlParser } = require('antlr4ts-sql/dist/src/grammar-output/tsql/TSqlParser.js') as {
  TSqlParser: new (tokens: unknown) => Recognizer & { tsql_file(): unknown };
};

/** Syntax errors in `sql` as "line:column message"; empty when it parses. */
export function parseTsql(sql: string): string[] {
  const errors: string[] = [];
  const listener: ErrorListener = {
    // The grammar lists every token it would have accepted: hundreds of them.
    syntaxError: (_recognizer, _symbol, line, column, message) => errors.push(`${line}:${column} ${message.replace(/ expecting \{.{120,}\}$/s, ' expecting one of many tokens')}`),
  };
  const lexer = new TSqlLexer(CharStreams.fromString(sql.toUpperCase()));
  lexer.removeErrorListeners();
  lexer.addErrorListener(listener);
  const parser = new TSqlParser(new CommonTokenStream(lexer));
  parser.removeErrorListeners();
  parser.addErrorListener(listener);
  parser.tsql_file();
  return errors;
}
