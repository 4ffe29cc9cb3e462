/**
 * The live connection: one `EventSource` on `/changes` (the session cookie goes with it, same
 * origin). The browser reconnects by itself and resumes with `Last-Event-ID`; a stream the server
 * refuses (a session no longer valid) ends as `closed`, and the page asks for the token again.
 */
import type { Change } from './api.js';

export type LiveState = 'live' | 'reconnecting' | 'closed';

export function connectLive(
  onChange: (change: Change) => void,
  onState: (state: LiveState) => void,
): () => void {
  const source = new EventSource('/changes');
  source.addEventListener('open', () => onState('live'));
  source.addEventListener('change', (event) => {
    onChange(JSON.parse((event as MessageEvent<string>).data) as Change);
  });
  source.addEventListener('error', () =>
    onState(source.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting'),
  );
  // Closed before the page goes, so leaving it never shows up as an aborted request.
  const close = (): void => source.close();
  window.addEventListener('pagehide', close);
  return () => {
    window.removeEventListener('pagehide', close);
    close();
  };
}
