// @types/novnc__novnc declares the old lib/ path; noVNC 1.7's package export is core/rfb.js.
/// <reference types="novnc__novnc" />
/// <reference types="vite/client" />
declare module '@novnc/novnc' {
  import RFB from '@novnc/novnc/lib/rfb';
  export default RFB;
}
