/** Settings of the demo page and its server side, from environment variables. */
export interface DemoConfig {
  /** The page goes idle after this long without input (`DEMO_IDLE_AFTER_MS`, default 10000). */
  idleAfterMs: number;
  /** Channel the module publishes the user count on (the module's default). */
  usercountChannel: string;
}

export const DEMO_CONFIG = Symbol('DEMO_CONFIG');

export function demoConfig(env: NodeJS.ProcessEnv = process.env): DemoConfig {
  const idle = Number(env.DEMO_IDLE_AFTER_MS || 10_000);
  return {
    idleAfterMs: Number.isFinite(idle) && idle >= 1000 ? Math.round(idle) : 10_000,
    usercountChannel: 'USERCOUNT',
  };
}
