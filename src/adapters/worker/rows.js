// The rows of one SQL statement as JSON text: the whole answer crosses into wasm once, where
// reading the cursor's objects field by field crossed once per value (a 1,000-row page of the
// catalog cost more than everything else in its request).
export function execJson(sql, query, args) {
  return JSON.stringify(sql.exec(query, ...args).toArray());
}
