import { readFile, rm } from "node:fs/promises";
import path from "node:path";
import {
  MatchersV3,
  MessageProviderPact,
  type MessageProviders,
  type MessageStateHandlers,
  PactV3,
  Verifier,
  type VerifierOptions,
} from "@pact-foundation/pact";
import { contexts } from "@shop/runtime";
import { serviceToken } from "@shop/runtime/testing";

// No anonymous usage reports from the verifier: the suite runs offline.
process.env.PACT_DO_NOT_TRACK ??= "true";

/** Where consumers write their pacts and providers read them from (committed). */
export const pactDir = path.resolve(import.meta.dirname, "../../../../contracts/pacts");

export const pactFile = (consumer: string, provider: string, dir: string = pactDir) => path.join(dir, `${consumer}-${provider}.json`);

/**
 * Pact merges every interaction into an existing file; a consumer suite starts from an empty
 * file so that the pact holds exactly the expectations the suite still has.
 */
export const removePact = (consumer: string, provider: string, dir: string = pactDir) =>
  rm(pactFile(consumer, provider, dir), { force: true });

/** A consumer's HTTP pact with `provider`, written to `dir` when its tests pass. */
export const httpConsumerPact = (consumer: string, provider: string, dir: string = pactDir) =>
  new PactV3({ consumer, provider, dir, logLevel: "error" });

/** RFC 3339 as the canonical Protobuf JSON writes a Timestamp (0, 3, 6 or 9 fractional digits). */
export const rfc3339 = (example = "2026-11-22T10:15:30.250Z") =>
  MatchersV3.regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/, example);

export const uuidV4 = (example: string) => MatchersV3.uuid(example);

/** Money as the JSON mapping writes it: int64 minor units as a string. */
export const money = (amountMinor: string, currencyCode = "USD") => ({ currencyCode, amountMinor: MatchersV3.string(amountMinor) });

/** How long the verifier waits for a state to be set up or an answer: some states run a whole checkout. */
const verificationTimeoutMs = 30_000;

type StateHandlers = NonNullable<VerifierOptions["stateHandlers"]>;

interface VerificationError {
  interaction?: string;
  mismatch?: { message?: string; mismatches?: { path?: string; mismatch?: string; description?: string }[] };
}

/**
 * The verifier rejects with its JSON report; this turns it into one line per mismatch naming
 * the pact (consumer and provider), the interaction and the field, so a test failure says
 * who the provider would break and how.
 */
export function explainVerification(err: unknown, pact: { consumer: string; provider: string }): Error {
  const text = err instanceof Error ? err.message : String(err);
  let report: { errors?: VerificationError[] };
  try {
    report = JSON.parse(text) as { errors?: VerificationError[] };
  } catch {
    return err instanceof Error ? err : new Error(text);
  }
  const lines = (report.errors ?? []).flatMap(({ interaction = "(unnamed interaction)", mismatch }) => {
    const details = mismatch?.mismatches?.length
      ? mismatch.mismatches.map((m) => `${m.path ? `${m.path}: ` : ""}${m.mismatch ?? m.description ?? "mismatch"}`)
      : [mismatch?.message ?? "failed"];
    return details.map((detail) => `  - ${interaction}\n      ${detail}`);
  });
  return new Error(`provider ${pact.provider} breaks consumer ${pact.consumer}:\n${lines.join("\n")}`, { cause: err });
}

export interface HttpVerification {
  consumer: string;
  provider: string;
  providerBaseUrl: string;
  stateHandlers?: StateHandlers;
  /** Read from here instead of the committed pacts (tests of the tooling). */
  dir?: string;
}

/**
 * Every provider state the pact's interactions are given must have a handler here: Pact itself
 * only logs a warning and verifies the interaction without its data.
 */
async function requireStateHandlers(file: string, handled: readonly string[], pact: { consumer: string; provider: string }): Promise<void> {
  const { interactions = [], messages = [] } = JSON.parse(await readFile(file, "utf8")) as {
    interactions?: { providerStates?: { name: string }[] }[];
    messages?: { providerStates?: { name: string }[] }[];
  };
  const needed = new Set(
    [...interactions, ...messages].flatMap((interaction) => (interaction.providerStates ?? []).map((state) => state.name)),
  );
  const missing = [...needed].filter((state) => !handled.includes(state));
  if (missing.length > 0) {
    throw new Error(
      `${pact.provider} sets up no provider state named ${missing.map((state) => `"${state}"`).join(", ")}, which ${pact.consumer}'s pact needs`,
    );
  }
}

/** Replays the consumer's pact against a running provider. */
export async function verifyHttpPact({ consumer, provider, providerBaseUrl, stateHandlers = {}, dir }: HttpVerification): Promise<void> {
  const file = pactFile(consumer, provider, dir);
  await requireStateHandlers(file, Object.keys(stateHandlers), { consumer, provider });
  // A consumer that is one of the shop's services calls with its own credential, as it does in production.
  const credential = (contexts as readonly string[]).includes(consumer) ? [`authorization: Bearer ${serviceToken(consumer)}`] : [];
  try {
    await new Verifier({
      provider,
      providerBaseUrl,
      pactUrls: [file],
      customProviderHeaders: credential,
      stateHandlers,
      timeout: verificationTimeoutMs,
      logLevel: "error",
    }).verifyProvider();
  } catch (err) {
    throw explainVerification(err, { consumer, provider });
  }
}

export interface MessageVerification {
  consumer: string;
  provider: string;
  /** One producer per message description, each running the provider's own code path. */
  messageProviders: MessageProviders;
  stateHandlers?: MessageStateHandlers;
  dir?: string;
}

/** Checks that the provider produces every message the consumer expects, as it expects it. */
export async function verifyMessagePact({
  consumer,
  provider,
  messageProviders,
  stateHandlers = {},
  dir,
}: MessageVerification): Promise<void> {
  const file = pactFile(consumer, provider, dir);
  await requireStateHandlers(file, Object.keys(stateHandlers), { consumer, provider });
  try {
    await new MessageProviderPact({
      provider,
      pactUrls: [file],
      messageProviders,
      stateHandlers,
      timeout: verificationTimeoutMs,
      logLevel: "error",
    }).verify();
  } catch (err) {
    throw explainVerification(err, { consumer, provider });
  }
}
