import { type DescMethod, type FileRegistry, type JsonObject, toJson } from "@bufbuild/protobuf";
import { MethodOptionsSchema } from "@bufbuild/protobuf/wkt";

/** An RPC as the Services page shows it, read from the descriptors a server's reflection serves. */
export interface RpcInfo {
  service: string;
  method: string;
  input: string;
  output: string;
  /** The method's authorization policy when its options declare one, else null ("not declared"). */
  policy: JsonObject | string | null;
  /** Every custom option the method carries, by its full name (`google.api.http`, ...). */
  options: Record<string, unknown>;
}

/** A custom method option counts as the authorization policy when its full name has an `auth` part, as `shop.auth.v1.policy`. */
const isPolicy = (name: string) => name.split(".").some((part) => part.toLowerCase() === "auth");

/**
 * The custom options of a method, read generically: the method options rendered to JSON with
 * every extension the served files define, so an option added to the contracts shows up without
 * the console knowing it.
 */
export function methodOptions(method: DescMethod, registry: FileRegistry): Record<string, unknown> {
  const options = method.proto.options;
  if (!options) return {};
  const json = toJson(MethodOptionsSchema, options, { registry }) as JsonObject;
  return Object.fromEntries(
    Object.entries(json)
      .filter(([key]) => key.startsWith("[") && key.endsWith("]"))
      .map(([key, value]) => [key.slice(1, -1), value]),
  );
}

/** Every method of `services` in `registry`, with its policy and options. */
export function describeMethods(registry: FileRegistry, services: readonly string[]): RpcInfo[] {
  return services.flatMap((name) => {
    const service = registry.getService(name);
    if (!service) return [];
    return service.methods.map((method) => {
      const options = methodOptions(method, registry);
      const policy = Object.entries(options).find(([key]) => isPolicy(key))?.[1];
      return {
        service: service.typeName,
        method: method.name,
        input: method.input.typeName,
        output: method.output.typeName,
        policy: policy === undefined ? null : (policy as JsonObject | string),
        options,
      };
    });
  });
}
