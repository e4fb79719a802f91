/** Shadow-DOM styles of <loupe-chat>; themable through --loupe-* custom properties and ::part. */
export const STYLES = `
:host {
  --loupe-accent: #2f6fdf;
  --loupe-background: #ffffff;
  --loupe-text: #1b1f24;
  --loupe-muted: #5b6470;
  --loupe-radius: 10px;
  --loupe-font: system-ui, -apple-system, 'Segoe UI', sans-serif;
  display: block;
  font-family: var(--loupe-font);
  color: var(--loupe-text);
  background: var(--loupe-background);
  border-radius: var(--loupe-radius);
  padding: 0.75rem;
}
.status { font-size: 0.8rem; color: var(--loupe-muted); margin: 0 0 0.5rem; }
.drop { border: 2px dashed color-mix(in srgb, var(--loupe-muted) 45%, transparent); border-radius: var(--loupe-radius); padding: 0.75rem; text-align: center; cursor: pointer; }
.drop:focus-visible, button:focus-visible, input:focus-visible { outline: 3px solid color-mix(in srgb, var(--loupe-accent) 60%, transparent); outline-offset: 2px; }
ol { list-style: none; padding: 0; margin: 0.75rem 0; display: flex; flex-direction: column; gap: 0.4rem; }
li { padding: 0.45rem 0.7rem; border-radius: var(--loupe-radius); white-space: pre-wrap; overflow-wrap: anywhere; }
li.user { align-self: flex-end; background: color-mix(in srgb, var(--loupe-accent) 16%, var(--loupe-background)); }
li.assistant { align-self: flex-start; background: color-mix(in srgb, var(--loupe-muted) 14%, var(--loupe-background)); }
li.error { color: #c0392b; }
form { display: flex; gap: 0.4rem; }
input[type='text'] { flex: 1; font: inherit; padding: 0.4rem 0.6rem; border-radius: 8px; border: 1px solid color-mix(in srgb, var(--loupe-muted) 40%, transparent); }
button { font: inherit; padding: 0.4rem 0.8rem; border-radius: 8px; border: none; background: var(--loupe-accent); color: white; cursor: pointer; }
button:disabled { opacity: 0.45; cursor: default; }
canvas { display: block; width: 100%; height: auto; margin-top: 0.5rem; border-radius: var(--loupe-radius); cursor: zoom-in; }
canvas[hidden] { display: none; }
label.toggle { font-size: 0.8rem; color: var(--loupe-muted); display: flex; align-items: center; gap: 0.2rem; }
`;
