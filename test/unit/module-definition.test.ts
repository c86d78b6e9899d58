import 'reflect-metadata';
import { describe, expect, it } from 'vitest';
import { PresenceConfigError, PresenceModule } from '../../src/index.js';

/** `isGlobal` never reaches the options resolver (Nest takes the extras out first): forRoot checks it. */
describe('PresenceModule isGlobal', () => {
  it('is global by default, and not with isGlobal: false', () => {
    expect(PresenceModule.forRoot({}).global).toBe(true);
    expect(PresenceModule.forRoot({ isGlobal: false }).global).toBe(false);
    expect(PresenceModule.forRootAsync({ isGlobal: false, useFactory: () => ({}) }).global).toBe(false);
  });

  for (const isGlobal of ['yes', null, 1]) {
    it(`refuses isGlobal: ${JSON.stringify(isGlobal)} with a PresenceConfigError, from forRoot and forRootAsync`, () => {
      expect(() => PresenceModule.forRoot({ isGlobal: isGlobal as never })).toThrow(PresenceConfigError);
      expect(() => PresenceModule.forRoot({ isGlobal: isGlobal as never })).toThrow(/isGlobal must be a boolean/);
      expect(() => PresenceModule.forRootAsync({ isGlobal: isGlobal as never, useFactory: () => ({}) })).toThrow(/isGlobal must be a boolean/);
    });
  }
});
