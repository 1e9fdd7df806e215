// Gatekeeper's icon: a small inline SVG (a "G" on the brand blue), served at /favicon.ico and inlined
// as a data URL by the pay page and the playground, so no page asks for an icon that is not there.
export const FAVICON_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="8" fill="#2f6fed"/><text x="16" y="22.5" font-family="Arial,Helvetica,sans-serif" font-size="19" font-weight="700" fill="#fff" text-anchor="middle">G</text></svg>';

export const FAVICON_DATA_URL = `data:image/svg+xml,${encodeURIComponent(FAVICON_SVG)}`;
