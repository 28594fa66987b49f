// Round-trip oracle for tests/consent/test_gpp_iab.py: the IAB's own @iabgpp/cmpapi, driven
// over stdin/stdout, one JSON request per line, one JSON answer per line.
//   {"op": "decode", "string": s}          -> {"sections": {name: fields}}
//   {"op": "encode", "sections": {name: fields}} -> {"string": s}
//   {"op": "random", "section": name, "seed": n, "version"?: v} -> {"string": s, "fields": fields}
// Fields are flat, by the library's field names (core segment, then Gpc and GpcSegmentIncluded).
"use strict";
const lib = require("@iabgpp/cmpapi");
const readline = require("readline");

const CORE = {
  tcfeuv2: lib.TCFEUV2_CORE_SEGMENT_FIELD_NAMES,
  usnat: lib.USNAT_CORE_SEGMENT_FIELD_NAMES, usca: lib.USCA_CORE_SEGMENT_FIELD_NAMES,
  usva: lib.USVA_CORE_SEGMENT_FIELD_NAMES, usco: lib.USCO_CORE_SEGMENT_FIELD_NAMES,
  usut: lib.USUT_CORE_SEGMENT_FIELD_NAMES, usct: lib.USCT_CORE_SEGMENT_FIELD_NAMES,
  usfl: lib.USFL_CORE_SEGMENT_FIELD_NAMES, usmt: lib.USMT_CORE_SEGMENT_FIELD_NAMES,
  usor: lib.USOR_CORE_SEGMENT_FIELD_NAMES, ustx: lib.USTX_CORE_SEGMENT_FIELD_NAMES,
  usde: lib.USDE_CORE_SEGMENT_FIELD_NAMES, usia: lib.USIA_CORE_SEGMENT_FIELD_NAMES,
  usne: lib.USNE_CORE_SEGMENT_FIELD_NAMES, usnh: lib.USNH_CORE_SEGMENT_FIELD_NAMES,
  usnj: lib.USNJ_CORE_SEGMENT_FIELD_NAMES, ustn: lib.USTN_CORE_SEGMENT_FIELD_NAMES,
  usmn: lib.UsMn_CORE_SEGMENT_FIELD_NAMES, usmd: lib.UsMd_CORE_SEGMENT_FIELD_NAMES,
  usin: lib.UsIn_CORE_SEGMENT_FIELD_NAMES, usky: lib.UsKy_CORE_SEGMENT_FIELD_NAMES,
  usri: lib.UsRi_CORE_SEGMENT_FIELD_NAMES,
};
const GPC = new Set(["usnat", "usca", "usco", "usct", "usmt", "usor", "ustx", "usde", "usia",
  "usne", "usnh", "usnj", "ustn", "usmn", "usmd"]);
// usin, usky, usri: the sensitive-data consents in an optional segment of their own.
const SENSITIVE = new Set(["usin", "usky", "usri"]);

function plain(value) {
  if (value instanceof Date) { return value.toISOString(); }
  if (Array.isArray(value)) { return value.map(plain); }
  if (value && typeof value === "object") {
    const out = {};
    for (const k of Object.keys(value)) { out[k] = plain(value[k]); }
    return out;
  }
  return value;
}

function fields(model, name) {
  const out = {};
  for (const f of CORE[name]) { out[f] = plain(model.getFieldValue(name, f)); }
  if (GPC.has(name)) {
    out.GpcSegmentIncluded = model.getFieldValue(name, "GpcSegmentIncluded");
    out.Gpc = model.getFieldValue(name, "Gpc");
  }
  if (SENSITIVE.has(name)) {
    out.SensitiveDataConsentSegmentIncluded =
      model.getFieldValue(name, "SensitiveDataConsentSegmentIncluded");
    out.SensitiveDataProcessing = plain(model.getFieldValue(name, "SensitiveDataProcessing"));
  }
  return out;
}

function decode(string) {
  const model = new lib.GppModel(string);
  const sections = {};
  for (const name of model.getSectionIds().map((id) => lib.Sections.SECTION_ID_NAME_MAP.get(id))) {
    if (CORE[name]) { sections[name] = fields(model, name); }
  }
  return { sections };
}

function encode(sections) {
  const model = new lib.GppModel();
  for (const name of Object.keys(sections)) {
    const values = sections[name];
    const later = {};
    for (const f of Object.keys(values)) {
      if (f === "Created" || f === "LastUpdated") { later[f] = new Date(values[f]); continue; }
      model.setFieldValue(name, f, values[f]);
    }
    for (const f of Object.keys(later)) { model.setFieldValue(name, f, later[f]); }
  }
  return { string: model.encode() };
}

function random(seed) { // mulberry32: a small seeded generator, reproducible per seed
  return function () {
    seed |= 0; seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomTcf(rnd, int) {
  const letters = () => String.fromCharCode(65 + int(26)) + String.fromCharCode(65 + int(26));
  const flags = (n) => Array.from({ length: n }, () => rnd() < 0.5);
  const ids = () => Array.from(new Set(Array.from({ length: int(30) }, () => 1 + int(rnd() < 0.5 ? 60 : 3000)))).sort((a, b) => a - b);
  const li = flags(24);
  [0, 2, 3, 4, 5].forEach((i) => { li[i] = false; });
  return {
    CmpId: int(4096), CmpVersion: int(4096), ConsentScreen: int(64), ConsentLanguage: letters(),
    VendorListVersion: int(4096), PolicyVersion: int(64), UseNonStandardStacks: rnd() < 0.5,
    SpecialFeatureOptins: flags(12), PurposeConsents: flags(24), PurposeLegitimateInterests: li,
    PurposeOneTreatment: rnd() < 0.5, PublisherCountryCode: letters(), VendorConsents: ids(),
    VendorLegitimateInterests: ids(),
    Created: new Date(Date.UTC(2019 + int(6), int(12), 1 + int(28), int(24), int(60), int(60), 100 * int(10))).toISOString(),
  };
}

function randomFields(name, seed, version) {
  const rnd = random(seed);
  const int = (n) => Math.floor(rnd() * n);
  if (name === "tcfeuv2") { return randomTcf(rnd, int); }
  const model = new lib.GppModel();
  model.setFieldValue(name, "SaleOptOut", 0); // creates the section with its defaults
  const out = {};
  for (const f of CORE[name]) {
    const current = model.getFieldValue(name, f);
    if (f === "Version" || f === "MspaVersion") { continue; }
    if (f === "MspaCoveredTransaction") { out[f] = 1 + int(2); } else if (Array.isArray(current)) {
      out[f] = current.map(() => int(3));
    } else { out[f] = int(3); }
  }
  if (GPC.has(name)) { out.GpcSegmentIncluded = rnd() < 0.7; out.Gpc = rnd() < 0.5; }
  if (SENSITIVE.has(name)) {
    out.SensitiveDataConsentSegmentIncluded = rnd() < 0.7;
    out.SensitiveDataProcessing = Array.from({ length: 8 }, () => int(3));
  }
  if (version) { out.Version = version; } // e.g. usnat 1: the library writes the shorter layout
  return out;
}

function handle(request) {
  if (request.op === "decode") { return decode(request.string); }
  if (request.op === "encode") { return encode(request.sections); }
  if (request.op === "random") {
    const values = randomFields(request.section, request.seed, request.version);
    const { string } = encode({ [request.section]: values });
    return { string, fields: decode(string).sections[request.section] };
  }
  throw new Error("unknown op " + request.op);
}

readline.createInterface({ input: process.stdin }).on("line", (line) => {
  let answer;
  try { answer = handle(JSON.parse(line)); } catch (e) { answer = { error: String(e && e.message || e) }; }
  process.stdout.write(JSON.stringify(answer) + "\n");
});
