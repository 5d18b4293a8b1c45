'use strict';
/**
 * A stand-in for a CommonJS module that a dependency requires as it loads but seldom calls: the real module is
 * required on first use (scripts/bundle.mjs puts stand-ins in the bundle and leaves the real modules in
 * node_modules). The stand-in is callable and constructible as the module's own export; `functions` are its
 * function-valued properties, forwarded the same way (they may be read, not called, while the dependency loads);
 * `properties` are read through from the real module on access.
 */
module.exports = function deferred(load, { functions = [], properties = [] } = {}) {
  let real;
  const required = () => (real ??= load());
  const forwarding = (target) =>
    function (...args) {
      return new.target ? Reflect.construct(target(), args) : Reflect.apply(target(), this, args);
    };
  const standIn = forwarding(required);
  for (const name of functions) standIn[name] = forwarding(() => required()[name]);
  for (const name of properties) Object.defineProperty(standIn, name, { get: () => required()[name], enumerable: true });
  return standIn;
};
