#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { migrate } from '../store/migrations/migrate.runner.js';

const USAGE = `Usage: nestjs-sc-presence migrate --url <database> [--table <name>] [--dry-run]

Creates the presence tables, or upgrades them (also from an sc-presence table), in one database.

  --url      mysql://user:password@host:3306/db, mariadb://…, or sqlite:<file>
             (default: the DATABASE_URL environment variable)
  --table    the sc-presence table name (default SCPresence_users); the others are named after it
  --dry-run  print the SQL it would run now, change nothing

Run it as a user that may CREATE, ALTER, INDEX and DROP; the app then needs only SELECT, INSERT, UPDATE
and DELETE on the tables (start it with database.migrationsRun: false).`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      table: { type: 'string', default: 'SCPresence_users' },
      'dry-run': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help || positionals[0] !== 'migrate' || positionals.length > 1) {
    (values.help ? console.log : console.error)(USAGE);
    return values.help ? 0 : 2;
  }
  const url = values.url ?? process.env.DATABASE_URL;
  if (!url) {
    console.error(`--url is missing (or set DATABASE_URL)\n\n${USAGE}`);
    return 2;
  }
  // The rule of the tableName option, so that the app finds what was created.
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,50}$/.test(values.table)) {
    console.error('--table must be letters, digits and _ (at most 51, not starting with a digit)');
    return 2;
  }
  await migrate({ url, table: values.table, dryRun: values['dry-run'], print: (line) => console.log(line) });
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`nestjs-sc-presence: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
