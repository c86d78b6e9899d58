import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';

/** This running instance: a fresh id per start, carried by every row it writes. */
@Injectable()
export class PresenceInstance {
  readonly id = randomUUID();
  readonly host = hostname().slice(0, 255);
  readonly pid = process.pid;
  readonly startedAt = new Date();
}
