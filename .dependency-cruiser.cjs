/**
 * Import rules for src/, checked by `npm run lint:deps` and by test/unit/dependency-rules.test.ts.
 * See ARCHITECTURE.md for the folders and the direction data flows between them.
 */
module.exports = {
  forbidden: [
    {
      name: 'no-folder-cycles',
      comment: 'Folders depend on each other one way only: a cycle between two folders means a part is in the wrong room.',
      severity: 'error',
      scope: 'folder',
      // A folder and its own subfolders (store/migrations) are one room.
      from: { path: '^src/[^/]+$' },
      to: { circular: true, pathNot: '^src/[^/]+/' },
    },
    {
      name: 'no-module-cycles',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'leaves-import-no-folder',
      comment: 'Types, messages, constants and errors at the root are imported by every folder and import none of them.',
      severity: 'error',
      from: { path: '^src/presence\\.(types|messages|constants|errors)\\.ts$' },
      to: { path: '^src/[^/]+/' },
    },
    {
      name: 'client-imports-no-server-code',
      comment: 'nestjs-sc-presence/client is bundled for browsers: only type imports and the shared constants.',
      severity: 'error',
      from: { path: '^src/client/' },
      to: { path: '^src/', pathNot: ['^src/client/', '^src/presence\\.(types|constants)\\.ts$'], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'sql-only-in-store',
      comment: 'Only src/store/ speaks SQL: nothing else reaches TypeORM or the drivers.',
      severity: 'error',
      from: { path: '^src/', pathNot: ['^src/store/', '^src/demo/', '^src/(app\\.module|main)\\.ts$'] },
      to: { path: 'node_modules/(typeorm|mysql2|better-sqlite3|@nestjs/typeorm)/', dependencyTypesNot: ['type-only'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^src/demo/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
