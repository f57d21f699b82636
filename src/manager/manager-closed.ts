import { WalClosedError } from '../errors.js';

/** What a call on a closed WalManager (or its checkpoints, or its pool of logs) gets. */
export function managerClosedError(action: string): WalClosedError {
  return new WalClosedError(action, 'manager', 'open it again with WalManager.open()');
}
