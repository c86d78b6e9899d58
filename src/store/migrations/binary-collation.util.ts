import type { QueryRunner } from 'typeorm';

/** A binary collation that does not ignore trailing spaces, where the server has one. */
export async function binaryCollation(queryRunner: QueryRunner): Promise<string> {
  const [{ version }] = (await queryRunner.query('SELECT VERSION() AS version')) as Array<{ version: string }>;
  if (/mariadb/i.test(version)) return 'utf8mb4_nopad_bin';
  return Number.parseInt(version, 10) >= 8 ? 'utf8mb4_0900_bin' : 'utf8mb4_bin';
}
