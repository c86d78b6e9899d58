/**
 * Counting SQL statements, for the tests that hold the module to a statement budget and for the bench: one
 * TypeORM logger that sees every statement of the module's own DataSource, and one connection of its own that
 * reads MariaDB's server-wide `Questions` counter and knows what it sent itself.
 */
import { appendFileSync } from 'node:fs';
import { DataSource, type DataSourceOptions, type Logger as OrmLogger } from 'typeorm';

export interface SqlCounters {
  total: number;
  kinds: Record<string, number>;
}

export interface SqlStatementCounterOptions {
  /** The module's `tableName`: kinds name its tables by their suffix (`sockets` for the base table itself). */
  baseTable?: string;
  /** Keep each statement, shortened, in `recorded`. */
  record?: boolean;
  /** Append each statement, with its kind, to this file. */
  file?: string;
  /** Called for a statement that failed (deadlocks, lost connections, …). */
  onError?: (line: string) => void;
}

/**
 * A TypeORM logger (`database.logger`) that counts every statement the module's DataSource sends, START
 * TRANSACTION and COMMIT included, in total and by kind (see `statementKind`). Exact and blind to other clients.
 */
export class SqlStatementCounter implements OrmLogger {
  total = 0;
  readonly kinds = new Map<string, number>();
  readonly recorded: string[] = [];

  constructor(private readonly options: SqlStatementCounterOptions = {}) {}

  logQuery(query: string, parameters?: unknown): void {
    this.total++;
    const kind = this.count(query);
    if (this.options.record) this.recorded.push(oneLine(query).slice(0, 160));
    if (this.options.file) {
      const params = Array.isArray(parameters) ? ` -- ${parameters.length} params` : '';
      appendFileSync(this.options.file, `${new Date().toISOString()} [${kind}] ${oneLine(query).slice(0, 400)}${params}\n`);
    }
  }

  logQueryError(error: string | Error, query: string): void {
    this.count(query, '(failed) ');
    this.options.onError?.(`${String(error)}: ${oneLine(query).slice(0, 200)}`);
  }

  logQuerySlow(): void {}
  logSchemaBuild(): void {}
  logMigration(): void {}
  log(): void {}

  snapshot(): SqlCounters {
    return { total: this.total, kinds: Object.fromEntries(this.kinds) };
  }

  private count(query: string, prefix = ''): string {
    const kind = `${prefix}${statementKind(query, this.options.baseTable ?? '')}`;
    this.kinds.set(kind, (this.kinds.get(kind) ?? 0) + 1);
    return kind;
  }
}

/**
 * A connection of its own that counts the statements it sends, so that they can be taken off MariaDB's global
 * `Questions` counter. performance_schema (which could count per thread) is off on a default MariaDB, so the
 * counter is server-wide: what other clients do at the same time is in it too.
 */
export class QuestionsMeter {
  /** Statements this connection sent. */
  sent = 0;

  protected constructor(private readonly ds: DataSource) {}

  static async open(options: DataSourceOptions): Promise<QuestionsMeter> {
    return new QuestionsMeter(await QuestionsMeter.connect(options));
  }

  protected static async connect(options: DataSourceOptions): Promise<DataSource> {
    const ds = new DataSource(options.type === 'mysql' ? { ...options, extra: { connectionLimit: 1 } } : options);
    await ds.initialize();
    return ds;
  }

  async query<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    this.sent++;
    return (await this.ds.query(sql, params)) as T[];
  }

  async questions(): Promise<number> {
    const [row] = await this.query<{ Value: string }>(`SHOW GLOBAL STATUS LIKE 'Questions'`);
    return Number(row.Value);
  }

  /** What one `questions()` read adds to the counter by itself. */
  async calibrate(): Promise<number> {
    const a = await this.questions();
    const b = await this.questions();
    return b - a;
  }

  close(): Promise<void> {
    return this.ds.destroy();
  }
}

/**
 * A short kind for a statement, e.g. `UPSERT sockets`, `SELECT … FOR UPDATE status`, `START TRANSACTION`:
 * the verb (with the modifiers that matter for cost) and which of the module's tables it touches, named by the
 * suffix after the base table name (`sockets` for the base table itself).
 * It runs inside the benched server for every statement, and a flush's upsert is tens of kilobytes: so the text
 * is searched as it is, with whitespace-tolerant patterns, instead of being copied, upper-cased and split first,
 * and of a long statement only its ends, where every clause it looks for is (the middle is placeholder lists).
 */
export function statementKind(statement: string, baseTable: string): string {
  const sql = statement.length > 2 * KIND_ENDS ? `${statement.slice(0, KIND_ENDS)} ${statement.slice(-KIND_ENDS)}` : statement;
  const head = /^\s*(\S*)(?:\s+(\S+)(?:\s+(\S+)(?:\s+(\S+)(?:\s+(\S+))?)?)?)?/.exec(sql)!;
  const verb0 = head[1].toUpperCase();
  const words = head.slice(1, 6).map((word) => (word ?? '').toUpperCase());
  if (verb0 === 'START' && words[1].startsWith('TRANSACTION')) return 'START TRANSACTION';
  if (verb0 === 'BEGIN' && words[1].startsWith('TRANSACTION')) return 'BEGIN TRANSACTION';
  if (verb0.startsWith('COMMIT')) return 'COMMIT';
  if (verb0.startsWith('ROLLBACK')) return 'ROLLBACK';
  if (verb0 === 'SET' && words[1] === 'TRANSACTION' && words[2] === 'ISOLATION' && words[3].startsWith('LEVEL')) return 'SET TRANSACTION ISOLATION';
  // A multi-table DELETE (`DELETE t FROM (…) AS v JOIN tbl AS t …`) deletes from the table named by its alias.
  const alias = /^\s*DELETE\s+(\w+)\s+FROM\b/i.exec(sql)?.[1];
  const tableMatch = alias
    ? new RegExp(`[\`"]?([A-Za-z0-9_]+)[\`"]?\\s+AS\\s+${alias}\\b`, 'i').exec(sql)
    : /\b(?:FROM|INTO|UPDATE)\s+[`"]?([A-Za-z0-9_]+)[`"]?/i.exec(sql);
  const table = tableMatch?.[1];
  let role = table ?? '';
  if (baseTable && table === baseTable) role = 'sockets';
  else if (baseTable && table?.startsWith(`${baseTable}_`)) role = table.slice(baseTable.length + 1);
  let verb = verb0;
  if (verb === 'INSERT') {
    if (/ON\s+DUPLICATE\s+KEY\s+UPDATE|ON\s+CONFLICT/i.test(sql)) verb = 'UPSERT';
    else if (/^\s*INSERT\s+(OR\s+)?IGNORE/i.test(sql)) verb = 'INSERT IGNORE';
  } else if (verb === 'SELECT') {
    if (/GET_LOCK|RELEASE_LOCK/i.test(sql)) return 'SELECT GET_LOCK/RELEASE_LOCK';
    if (/\sFOR\s+UPDATE\s*$/i.test(sql)) verb = 'SELECT … FOR UPDATE';
    else if (/\sGROUP\s+BY\s/i.test(sql)) verb = 'SELECT … GROUP BY';
    else if (/^\s*SELECT\s+COUNT\(/i.test(sql)) verb = 'SELECT COUNT';
  }
  return role ? `${verb} ${role}` : verb;
}

/** Characters at each end of a statement that `statementKind` reads. */
const KIND_ENDS = 1000;

function oneLine(sql: string): string {
  return sql.replace(/\s+/g, ' ').trim();
}

/** A counter that also keeps every statement in full, for tests that EXPLAIN what the module sent. */
export class StatementLog extends SqlStatementCounter {
  readonly queries: string[] = [];

  override logQuery(query: string, parameters?: unknown): void {
    super.logQuery(query, parameters);
    this.queries.push(query);
  }

  find(pattern: RegExp, from = 0): string | undefined {
    return this.queries.slice(from).find((query) => pattern.test(query));
  }
}

/** MariaDB's plan of one statement, run through `sql` (a test app's own connection). */
export async function explain(
  sql: (query: string, params?: unknown[]) => Promise<unknown>,
  statement: string,
  params: unknown[],
): Promise<Array<{ table: string; key: string | null; type: string }>> {
  return (await sql(`EXPLAIN ${statement}`, params)) as Array<{ table: string; key: string | null; type: string }>;
}
