// Redoc's side menu always shows Redocly's logo from Redocly's CDN ("API docs by Redocly"). The docs make
// no request outside this site, so that one image gets an empty picture instead; the link stays.
(() => {
  "use strict";
  const REMOTE_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg";
  const EMPTY_IMAGE = "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' width='0' height='0'/%3E";
  const local = (value) => (value === REMOTE_LOGO ? EMPTY_IMAGE : value);

  const src = Object.getOwnPropertyDescriptor(HTMLImageElement.prototype, "src");
  Object.defineProperty(HTMLImageElement.prototype, "src", {
    ...src,
    set(value) {
      src.set.call(this, local(value));
    },
  });
  const setAttribute = Element.prototype.setAttribute;
  Element.prototype.setAttribute = function (name, value) {
    return setAttribute.call(this, name, name === "src" ? local(value) : value);
  };
})();
