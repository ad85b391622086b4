import { create } from "@bufbuild/protobuf";
import { ViolationsSchema } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { dependencyUnavailable, isDependencyFailure } from "./errors.js";
import { errorFromStatus, headersFromMetadata, metadataFromHeaders, statusFromError } from "./grpc-wire.js";

describe("gRPC wire mapping", () => {
  it("carries code, message, metadata and typed details through a grpc-js status", () => {
    const details = create(ViolationsSchema, { violations: [{ message: "must be positive", ruleId: "int32.gt" }] });
    const original = new ConnectError("quantity: must be positive", Code.InvalidArgument, { "x-request-id": "r-1" }, [
      { desc: ViolationsSchema, value: details },
    ]);
    const status = statusFromError(original);
    expect(status.code).toBe(Code.InvalidArgument);
    const back = errorFromStatus({ code: status.code!, details: status.details!, metadata: status.metadata! });
    expect(back.code).toBe(Code.InvalidArgument);
    expect(back.rawMessage).toBe("quantity: must be positive");
    expect(back.findDetails(ViolationsSchema)[0]?.violations[0]?.ruleId).toBe("int32.gt");
  });

  it("keeps plain errors without details", () => {
    const status = statusFromError(new ConnectError("order o-1 not found", Code.NotFound));
    const back = errorFromStatus({ code: status.code!, details: status.details!, metadata: status.metadata! });
    expect([back.code, back.rawMessage]).toEqual([Code.NotFound, "order o-1 not found"]);
  });

  it("converts headers and metadata both ways, binary entries as base64", () => {
    const metadata = metadataFromHeaders(new Headers({ "x-user-id": "u-1", "trace-bin": Buffer.from([1, 2, 3]).toString("base64") }));
    expect(metadata.get("trace-bin")[0]).toEqual(Buffer.from([1, 2, 3]));
    const headers = headersFromMetadata(metadata);
    expect(headers.get("x-user-id")).toBe("u-1");
    expect(headers.get("trace-bin")).toBe("AQID");
  });

  it("keeps the dependency-failure mark, so breakers downstream of the wire can tell", () => {
    const status = statusFromError(dependencyUnavailable("payment provider temporarily unavailable"));
    const back = errorFromStatus({ code: status.code!, details: status.details!, metadata: status.metadata! });
    expect([back.code, isDependencyFailure(back)]).toEqual([Code.Unavailable, true]);
    const plain = statusFromError(new ConnectError("down", Code.Unavailable));
    expect(isDependencyFailure(errorFromStatus({ code: plain.code!, details: plain.details!, metadata: plain.metadata! }))).toBe(false);
  });
});
