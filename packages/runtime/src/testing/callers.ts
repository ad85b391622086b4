import { type Code, ConnectError } from "@connectrpc/connect";

/** The code and message a call fails with (fails the test if it succeeds). */
export async function failureOf(call: Promise<unknown>): Promise<{ code: Code; message: string }> {
  const err = await call.then(
    () => {
      throw new Error("expected the call to fail");
    },
    (err: unknown) => ConnectError.from(err),
  );
  return { code: err.code, message: err.rawMessage };
}
