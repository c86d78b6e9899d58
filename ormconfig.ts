/**
 * DataSource for the TypeORM CLI, so a DBA can create the presence tables instead of the app
 * (then start the app with `database.migrationsRun: false`; it needs only SELECT, INSERT, UPDATE, DELETE):
 *
 *   DATABASE_URL=mysql://user:password@host:3306/db npm run migration:run
 *   PRESENCE_TABLE_NAME=MyPresence DATABASE_URL=… npm run migration:run
 *
 * Without DATABASE_URL it migrates the SQLite file named by SQLITE_PATH (default presence.sqlite).
 */
import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { presenceMigrations } from './src/store/migrations/index.js';

const url = process.env.DATABASE_URL;
const tableName = process.env.PRESENCE_TABLE_NAME ?? 'SCPresence_users';
// One migrations table per presence table, so that deployments sharing a schema each get their tables.
const migrationsTableName = `${tableName}_migrations`;

export default new DataSource(
  url
    ? { type: 'mysql', url, timezone: 'Z', charset: 'utf8mb4', migrations: presenceMigrations, migrationsTableName }
    : { type: 'better-sqlite3', database: process.env.SQLITE_PATH ?? 'presence.sqlite', migrations: presenceMigrations, migrationsTableName },
);
