import { deadLetterStream, streamName } from "@shop/runtime";
import { connect, type JetStreamManager } from "nats";

/** Runs `work` on a short-lived connection, so a probe survives server restarts between calls. */
export async function withJetStream<T>(natsUrl: string, work: (jsm: JetStreamManager) => Promise<T>): Promise<T> {
  const nc = await connect({ servers: natsUrl, timeout: 2_000, reconnect: false });
  try {
    return await work(await nc.jetstreamManager({ checkAPI: false }));
  } finally {
    await nc.close();
  }
}

export interface ConsumerRef {
  /** Publishing context whose stream is read (`orders` reads `SHOP_ORDERS`). */
  context: string;
  /** Durable consumer name. */
  consumer: string;
}

/** Messages a durable consumer has not yet acknowledged: not delivered yet plus delivered but unacked. */
export function consumerBacklog(natsUrl: string, { context, consumer }: ConsumerRef): Promise<number> {
  return withJetStream(natsUrl, async (jsm) => {
    const info = await jsm.consumers.info(streamName(context), consumer);
    return info.num_pending + info.num_ack_pending;
  });
}

/** Messages held by the stream of each context, and by the dead-letter stream. */
export function streamMessageCounts(
  natsUrl: string,
  contexts: readonly string[],
): Promise<{ byContext: Record<string, number>; deadLetters: number }> {
  return withJetStream(natsUrl, async (jsm) => {
    const byContext: Record<string, number> = {};
    for (const context of contexts) byContext[context] = (await jsm.streams.info(streamName(context))).state.messages;
    const deadLetters = (await jsm.streams.info(deadLetterStream)).state.messages;
    return { byContext, deadLetters };
  });
}
