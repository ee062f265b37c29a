// A consumer of the payments' state stream in another language: nothing here comes from the
// Python code, only the published language — the stream's name, the envelope's fields and the
// JSON Schemas in docs/schemas/ (catalog.json says which file holds which `dataschema`).
//
// It joins {payments}:state as a consumer group of its own, so orders' group is not disturbed,
// and for every entry: validates the envelope and the data, builds a CloudEvent with the official
// SDK (which checks the attributes against the CloudEvents spec), prints one line per event (the
// payment's state, as JSON), and acknowledges it. An entry that fails a check is printed to stderr
// and left pending in the group, for an operator (README.md).
//
//   REDIS_URL=redis://user:password@127.0.0.1:6379/0 node consumer.js
//
// Settings (environment): REDIS_URL, GROUP (node-consumer), CONSUMER (node-1), SCHEMAS (the
// repository's docs/schemas), START (where a new group starts: 0, the oldest entry kept).

import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import Ajv from "ajv";
import addFormats from "ajv-formats";
import { CloudEvent } from "cloudevents";
import { createClient } from "redis";

const STREAM = "{payments}:state";
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379/0";
const GROUP = process.env.GROUP ?? "node-consumer";
const CONSUMER = process.env.CONSUMER ?? "node-1"; // stable: its pending entries are its own
const SCHEMAS = process.env.SCHEMAS ?? resolve(dirname(fileURLToPath(import.meta.url)), "../../docs/schemas");
const START = process.env.START ?? "0";
const BATCH = 100;
const BLOCK_MS = 1000; // how long a read waits for news, so a stop request is seen within it

// ---- The published language, loaded from its files -------------------------------------------

const load = (file) => JSON.parse(readFileSync(join(SCHEMAS, file), "utf8"));
const catalog = load("catalog.json");
const ajv = new Ajv({ allErrors: true });
addFormats(ajv); // "format": "date-time" (an event's time) is checked, not just read
const envelopeSchema = load(catalog.envelope);
const validEnvelope = ajv.compile(envelopeSchema);
for (const file of Object.values(catalog.schemas)) {
  ajv.addSchema(load(file)); // under its $id: the URN an event names in `dataschema`
}
// What an entry of this stream holds when it names no dataschema (version 1), by event type.
const withoutDataschema = catalog.without_dataschema[STREAM];
// The envelope's attributes, as the CloudEvent's (an entry's other fields are not ours to read).
const ATTRIBUTES = Object.keys(envelopeSchema.properties).filter((name) => name !== "data");

// ---- One entry ---------------------------------------------------------------------------------

/** The entry as a CloudEvent with its data's URN, or the reasons it is not a valid event. */
function read(fields) {
  if (!validEnvelope(fields)) {
    return { problems: `envelope: ${ajv.errorsText(validEnvelope.errors)}` };
  }
  const urn = fields.dataschema ?? withoutDataschema[fields.type];
  const validData = urn === undefined ? undefined : ajv.getSchema(urn);
  if (validData === undefined) {
    // A newer version than these files know: leave it for a release that knows it.
    return { problems: `no schema for ${urn ?? `type ${fields.type} without dataschema`}` };
  }
  let data;
  try {
    data = JSON.parse(fields.data);
  } catch (error) {
    return { problems: `data is not JSON: ${error.message}` };
  }
  if (!validData(data)) {
    return { problems: `data (${urn}): ${ajv.errorsText(validData.errors)}` };
  }
  const attributes = Object.fromEntries(
    ATTRIBUTES.filter((name) => fields[name] !== undefined).map((name) => [name, fields[name]]),
  );
  try {
    return { event: new CloudEvent({ ...attributes, data }), urn }; // strict: validated
  } catch (error) {
    return { problems: `not a CloudEvent: ${error.message}` };
  }
}

/** Handle one entry; whether it may be acknowledged. */
function handle(entryId, fields) {
  if (fields === null) {
    // Trimmed from the stream while it was pending here: nothing left to read.
    console.error(JSON.stringify({ entry: entryId, gone: "trimmed before it was handled" }));
    return true;
  }
  const { event, urn, problems } = read(fields);
  if (problems !== undefined) {
    console.error(JSON.stringify({ entry: entryId, invalid: problems }));
    return false; // stays pending in the group
  }
  const line = {
    entry: entryId,
    id: event.id,
    type: event.type,
    time: event.time,
    subject: event.subject,
    dataschema: urn,
    traceparent: event.traceparent ?? null,
    correlationid: event.correlationid ?? null,
    valid: true,
    state: event.data,
  };
  console.log(JSON.stringify(line));
  return true;
}

// ---- The group ---------------------------------------------------------------------------------

const redis = createClient({ url: REDIS_URL });
redis.on("error", (error) => console.error(`redis: ${error.message}`));
await redis.connect();
try {
  await redis.xGroupCreate(STREAM, GROUP, START, { MKSTREAM: true });
} catch (error) {
  if (!String(error.message).startsWith("BUSYGROUP")) throw error; // exists already: join it
}

let running = true;
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    running = false;
  });
}

// First its history: what this consumer was handed and never acknowledged (a run that stopped
// midway), read by id from "0" on; then new entries (">").
let history = true;
let after = "0";
console.error(`${CONSUMER} in group ${GROUP} reads ${STREAM}`);
while (running) {
  const reply = await redis.xReadGroup(
    GROUP,
    CONSUMER,
    { key: STREAM, id: history ? after : ">" },
    { COUNT: BATCH, BLOCK: BLOCK_MS },
  );
  const messages = reply?.[0]?.messages ?? [];
  if (history) {
    if (messages.length === 0) {
      history = false; // done: what still pends failed a check, and stays for an operator
      continue;
    }
    after = messages.at(-1).id;
  }
  const done = messages.filter(({ id, message }) => handle(id, message)).map(({ id }) => id);
  if (done.length > 0) await redis.xAck(STREAM, GROUP, done);
}
await redis.close();
