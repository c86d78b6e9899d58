/** The page's stylesheet, served at /assets/style.css. */
export const STYLE_CSS = `
:root {
  --bg: #f4f5f8;
  --card: #ffffff;
  --text: #161a23;
  --muted: #667085;
  --line: #e4e7ec;
  --accent: #4f46e5;
  --accent-soft: #eef0ff;
  --button: #4f46e5;
  --online: #16a34a;
  --idle: #f59e0b;
  --offline: #a3aab8;
  --danger: #d92d20;
  --shadow: 0 1px 2px rgba(16, 24, 40, .04), 0 4px 16px rgba(16, 24, 40, .06);
  color-scheme: light dark;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0f1117;
    --card: #171a23;
    --text: #e7e9ee;
    --muted: #98a2b3;
    --line: #2a2f3b;
    --accent: #8b85ff;
    --accent-soft: #23244a;
    --button: #5a52e0;
    --offline: #5d6575;
    --shadow: none;
  }
}
* { box-sizing: border-box; }
[hidden] { display: none !important; }
html { -webkit-text-size-adjust: 100%; }
body {
  margin: 0;
  background: var(--bg);
  color: var(--text);
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", sans-serif;
}
h1, h2 { margin: 0 0 12px; line-height: 1.2; }
h1 { font-size: 26px; }
h2 { font-size: 13px; text-transform: uppercase; letter-spacing: .06em; color: var(--muted); font-weight: 650; display: flex; align-items: center; gap: 8px; }
code { font: 12.5px/1 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: var(--accent-soft); padding: 2px 5px; border-radius: 5px; }
.muted { color: var(--muted); }
.small { font-size: 13px; }
.error { color: var(--danger); font-size: 13px; min-height: 1em; margin: 6px 0 0; }
.error:empty { display: none; }

/* top bar */
.topbar {
  position: sticky; top: 0; z-index: 2;
  display: flex; align-items: center; justify-content: space-between; gap: 16px;
  padding: 12px clamp(16px, 4vw, 32px);
  background: color-mix(in srgb, var(--card) 88%, transparent);
  backdrop-filter: blur(8px);
  border-bottom: 1px solid var(--line);
}
.brand { display: flex; align-items: baseline; gap: 10px; font-weight: 700; font-size: 17px; white-space: nowrap; min-width: 0; }
.brand-mark { width: 12px; height: 12px; border-radius: 50%; background: var(--online); align-self: center; box-shadow: 0 0 0 4px color-mix(in srgb, var(--online) 22%, transparent); }
.brand-sub { font-weight: 500; font-size: 13px; color: var(--muted); }
.topbar-right { display: flex; align-items: center; gap: 14px; font-size: 14px; }
.me { display: inline-flex; align-items: center; gap: 8px; min-width: 0; }
#me-name { max-width: 180px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.connection { display: inline-flex; align-items: center; gap: 6px; font-size: 13px; color: var(--muted); }
.connection::before { content: ""; width: 8px; height: 8px; border-radius: 50%; background: var(--idle); }
.connection[data-state="open"]::before { background: var(--online); }
.connection[data-state="closed"]::before { background: var(--danger); }

/* controls */
button, input { font: inherit; color: inherit; }
button {
  cursor: pointer; border: 1px solid var(--line); background: var(--card);
  border-radius: 8px; padding: 7px 14px; font-weight: 600; font-size: 14px;
  transition: background .15s, border-color .15s, box-shadow .15s;
}
button:hover { border-color: color-mix(in srgb, var(--accent) 45%, var(--line)); }
button:focus-visible, input:focus-visible { outline: 2px solid var(--accent); outline-offset: 2px; }
button.primary { background: var(--button); border-color: var(--button); color: #fff; }
button.primary:hover { background: color-mix(in srgb, var(--button) 88%, #000); }
button.link { border: 0; background: none; padding: 0; color: var(--accent); font-weight: 600; font-size: 13px; }
button.small { padding: 3px 10px; font-size: 12.5px; }
button:disabled { opacity: .55; cursor: default; }
input {
  min-width: 0; flex: 1; border: 1px solid var(--line); background: var(--bg);
  border-radius: 8px; padding: 7px 12px; font-size: 14px;
}
.row { display: flex; gap: 8px; align-items: center; flex-wrap: wrap; }
.row > input { flex: 1 1 160px; }

/* layout: three columns of cards, two on tablets, one on phones */
.grid {
  max-width: 1280px; margin: 0 auto; padding: 20px clamp(12px, 3vw, 32px) 32px;
  display: grid; gap: 16px; align-items: start;
  grid-template-columns: minmax(0, 1fr) minmax(0, 1fr) minmax(0, 1fr);
}
.col { display: flex; flex-direction: column; gap: 16px; min-width: 0; }
@media (max-width: 1000px) {
  .grid { grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); }
  .col:last-child { grid-column: 1 / -1; }
}
@media (max-width: 640px) {
  .grid { grid-template-columns: minmax(0, 1fr); }
  .brand-sub, #me-name, #me-dot { display: none; }
  .topbar { padding: 10px 14px; }
}
.card { background: var(--card); border: 1px solid var(--line); border-radius: 14px; padding: 18px 20px; box-shadow: var(--shadow); min-width: 0; }

/* sign in */
.sign-in { display: grid; place-items: center; padding: 8vh 16px; }
.sign-in-card { width: min(440px, 100%); padding: 28px; }
.sign-in-card label { display: block; font-weight: 600; font-size: 14px; margin: 18px 0 6px; }

/* status dots */
.dot { display: inline-block; flex: none; width: 10px; height: 10px; border-radius: 50%; background: var(--offline); }
.dot[data-status="online"] { background: var(--online); box-shadow: 0 0 0 3px color-mix(in srgb, var(--online) 20%, transparent); }
.dot[data-status="idle"] { background: var(--idle); box-shadow: 0 0 0 3px color-mix(in srgb, var(--idle) 22%, transparent); }
.dot.big { width: 16px; height: 16px; }

/* you */
.you-status { display: flex; align-items: center; gap: 14px; margin-bottom: 14px; }
.you-name { font-size: 20px; font-weight: 700; overflow-wrap: anywhere; }
.you-label { color: var(--muted); font-size: 14px; }
.you .small { margin: 12px 0 0; }

/* count */
.count-value { display: flex; align-items: baseline; gap: 8px; margin-bottom: 12px; }
#count { font-size: 44px; font-weight: 750; line-height: 1; font-variant-numeric: tabular-nums; letter-spacing: -.02em; }
.count-unit { color: var(--muted); font-size: 15px; }
.segmented { display: inline-flex; border: 1px solid var(--line); border-radius: 9px; padding: 2px; background: var(--bg); flex-wrap: wrap; }
.segmented button { border: 0; background: transparent; padding: 5px 12px; border-radius: 7px; font-size: 13px; color: var(--muted); }
.segmented button[aria-checked="true"] { background: var(--card); color: var(--text); box-shadow: 0 1px 2px rgba(16, 24, 40, .12); }
.count .small { margin: 12px 0 0; }

/* people */
.badge { background: var(--accent-soft); color: var(--accent); border-radius: 999px; padding: 1px 8px; font-size: 12px; letter-spacing: 0; }
.people-list, .members { list-style: none; margin: 0; padding: 0; }
.people-list { max-height: 420px; overflow: auto; }
.person { display: flex; align-items: center; gap: 10px; padding: 8px 0; border-top: 1px solid var(--line); }
.person:first-child { border-top: 0; }
.person-name { font-weight: 600; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.person-you { color: var(--muted); font-weight: 500; font-size: 13px; }
.person-detail { margin-left: auto; color: var(--muted); font-size: 13px; white-space: nowrap; }
.person[data-status="offline"] .person-name { color: var(--muted); font-weight: 500; }
.empty { margin: 4px 0 0; }

/* rooms */
.rooms-list { display: grid; gap: 10px; margin-top: 12px; }
.room { border: 1px solid var(--line); border-radius: 10px; padding: 10px 12px; }
.room-head { display: flex; align-items: center; gap: 8px; margin-bottom: 6px; }
.room-name { font-weight: 700; overflow-wrap: anywhere; }
.room-name::before { content: "#"; color: var(--muted); margin-right: 2px; font-weight: 500; }
.room-head button { margin-left: auto; }
.members { display: flex; flex-wrap: wrap; gap: 6px; }
.member { display: inline-flex; align-items: center; gap: 6px; background: var(--bg); border-radius: 999px; padding: 3px 10px 3px 8px; font-size: 13px; max-width: 100%; }
.member span:last-child { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.room .muted { font-size: 13px; }
.member-state { color: var(--muted); font-size: 12px; white-space: nowrap; flex-shrink: 0; }
.member-note { font-style: italic; min-width: 0; }
/* A long note shrinks to an ellipsis instead of widening the room. */
.room, .member, .member-note { min-width: 0; }
.member[data-typing="true"] .member-state { color: var(--accent); }
.you label.small { display: block; margin: 14px 0 6px; }
.you #note { width: 100%; box-sizing: border-box; }
.person .remove { margin-left: 6px; }

/* log */
.card-sub { margin: -6px 0 10px; }
.log-list { list-style: none; margin: 0; padding: 0; max-height: min(600px, calc(100vh - 210px)); min-height: 120px; overflow: auto; font-size: 13.5px; }
@media (max-width: 1000px) { .log-list { max-height: 320px; } }
.log-list li { display: grid; grid-template-columns: 62px minmax(0, 1fr); gap: 8px; align-items: baseline; padding: 6px 0; border-top: 1px solid var(--line); }
.log-list li:first-child { border-top: 0; }
.log-time { color: var(--muted); font: 12px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.log-text { overflow-wrap: anywhere; }
.log-text .reason { color: var(--muted); }
.log-type { display: inline-block; margin-right: 6px; font: 600 11px/1.6 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; border-radius: 6px; padding: 0 6px; background: var(--accent-soft); color: var(--accent); }
.log-type[data-kind="online"] { background: color-mix(in srgb, var(--online) 14%, transparent); color: var(--online); }
.log-type[data-kind="idle"] { background: color-mix(in srgb, var(--idle) 18%, transparent); color: color-mix(in srgb, var(--idle) 70%, var(--text)); }
.log-type[data-kind="offline"] { background: color-mix(in srgb, var(--offline) 22%, transparent); color: var(--muted); }
.log-type[data-kind="note"] { background: color-mix(in srgb, var(--danger) 12%, transparent); color: var(--danger); }
.log-list li.log-empty { display: block; color: var(--muted); font-size: 13px; }
`;
