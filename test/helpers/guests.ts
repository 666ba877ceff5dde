// The cached test guests (built by scripts/guests, also used by `npm start` for its demo VM).
export { guestArtifacts, GuestArtifactsMissingError, type GuestArtifacts } from '../../scripts/guests/artifacts.js';
