import { create, createFileRegistry, type DescMessage, type DescService, type MessageInitShape, setExtension } from "@bufbuild/protobuf";
import {
  type FieldDescriptorProtoSchema,
  FileDescriptorProtoSchema,
  file_google_protobuf_timestamp,
  FieldDescriptorProto_Label as Label,
  MethodOptionsSchema,
  FieldDescriptorProto_Type as Type,
} from "@bufbuild/protobuf/wkt";
import { file_google_api_annotations, http } from "@shop/contracts/google/api/annotations_pb.js";
import { HttpRuleSchema } from "@shop/contracts/google/api/http_pb.js";

type FieldInit = MessageInitShape<typeof FieldDescriptorProtoSchema>;
type RuleInit = MessageInitShape<typeof HttpRuleSchema>;

const pkg = "test.library.v1";

// protoc fills json_name in; descriptors built by hand must too.
const jsonNameOf = (name: string) => name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

const scalar = (name: string, number: number, type: Type, repeated = false): FieldInit => ({
  name,
  jsonName: jsonNameOf(name),
  number,
  type,
  label: repeated ? Label.REPEATED : Label.OPTIONAL,
});
const ref = (name: string, number: number, type: Type.MESSAGE | Type.ENUM, typeName: string, repeated = false): FieldInit => ({
  name,
  jsonName: jsonNameOf(name),
  number,
  type,
  typeName: typeName.startsWith(".") ? typeName : `.${pkg}.${typeName}`,
  label: repeated ? Label.REPEATED : Label.OPTIONAL,
});

function method(name: string, input: string, output: string, rule?: RuleInit) {
  const options = create(MethodOptionsSchema);
  if (rule) setExtension(options, http, create(HttpRuleSchema, rule));
  return { name, inputType: `.${pkg}.${input}`, outputType: `.${pkg}.${output}`, options };
}

/**
 * A small API, built as descriptors, that exercises every `google.api.http` binding rule the
 * shop's own contracts do not use: multi-segment variables, nested variables, `body: "field"`,
 * `response_body`, additional bindings, custom methods and verbs, nested and repeated query
 * parameters, maps and well-known types.
 */
function libraryFile() {
  return create(FileDescriptorProtoSchema, {
    name: "test/library/v1/library.proto",
    package: pkg,
    syntax: "proto3",
    dependency: ["google/api/annotations.proto", "google/protobuf/timestamp.proto"],
    enumType: [
      {
        name: "Genre",
        value: [
          { name: "GENRE_UNSPECIFIED", number: 0 },
          { name: "GENRE_FICTION", number: 1 },
          { name: "GENRE_HISTORY", number: 2 },
        ],
      },
    ],
    messageType: [
      {
        name: "Book",
        field: [
          scalar("name", 1, Type.STRING),
          scalar("title", 2, Type.STRING),
          scalar("author", 3, Type.STRING),
          scalar("tags", 4, Type.STRING, true),
          ref("genre", 5, Type.ENUM, "Genre"),
          scalar("rating", 6, Type.DOUBLE),
          scalar("pages", 7, Type.INT32),
          ref("published_time", 8, Type.MESSAGE, ".google.protobuf.Timestamp"),
          scalar("isbn", 9, Type.INT64),
          scalar("in_print", 10, Type.BOOL),
        ],
      },
      { name: "GetBookRequest", field: [scalar("name", 1, Type.STRING)] },
      {
        name: "BookFilter",
        field: [
          scalar("author", 1, Type.STRING),
          scalar("tags", 2, Type.STRING, true),
          scalar("in_print", 3, Type.BOOL),
          ref("published_after", 4, Type.MESSAGE, ".google.protobuf.Timestamp"),
          scalar("min_rating", 5, Type.DOUBLE),
          scalar("min_isbn", 6, Type.INT64),
          ref("nested", 7, Type.MESSAGE, "BookFilter"),
        ],
      },
      {
        name: "ListBooksRequest",
        field: [
          scalar("shelf", 1, Type.STRING),
          scalar("page_size", 2, Type.INT32),
          ref("filter", 3, Type.MESSAGE, "BookFilter"),
          ref("genres", 4, Type.ENUM, "Genre", true),
          scalar("page_token", 5, Type.STRING),
        ],
      },
      { name: "ListBooksResponse", field: [ref("books", 1, Type.MESSAGE, "Book", true), scalar("next_page_token", 2, Type.STRING)] },
      {
        name: "CreateBookRequest",
        field: [scalar("shelf", 1, Type.STRING), ref("book", 2, Type.MESSAGE, "Book"), scalar("request_id", 3, Type.STRING)],
      },
      { name: "UpdateBookRequest", field: [ref("book", 1, Type.MESSAGE, "Book"), scalar("validate_only", 2, Type.BOOL)] },
      { name: "ArchiveBookRequest", field: [scalar("name", 1, Type.STRING), scalar("reason", 2, Type.STRING)] },
      { name: "GetShelfStatsRequest", field: [scalar("shelf", 1, Type.STRING)] },
      {
        name: "ShelfStats",
        field: [scalar("book_count", 1, Type.INT32), ref("labels", 2, Type.MESSAGE, "ShelfStats.LabelsEntry", true)],
        nestedType: [
          { name: "LabelsEntry", field: [scalar("key", 1, Type.STRING), scalar("value", 2, Type.INT32)], options: { mapEntry: true } },
        ],
      },
      { name: "GetShelfStatsResponse", field: [ref("stats", 1, Type.MESSAGE, "ShelfStats"), scalar("computed_by", 2, Type.STRING)] },
      { name: "GetFileRequest", field: [scalar("path", 1, Type.STRING)] },
      { name: "File", field: [scalar("path", 1, Type.STRING), scalar("size", 2, Type.INT64)] },
      { name: "SearchBooksRequest", field: [scalar("query", 1, Type.STRING)] },
      { name: "PingRequest", field: [] },
      { name: "PingResponse", field: [] },
    ],
    service: [
      {
        name: "LibraryService",
        method: [
          method("GetBook", "GetBookRequest", "Book", { pattern: { case: "get", value: "/v1/{name=shelves/*/books/*}" } }),
          method("ListBooks", "ListBooksRequest", "ListBooksResponse", { pattern: { case: "get", value: "/v1/shelves/{shelf}/books" } }),
          method("CreateBook", "CreateBookRequest", "Book", {
            pattern: { case: "post", value: "/v1/shelves/{shelf}/books" },
            body: "book",
            additionalBindings: [{ pattern: { case: "post", value: "/v1/books" }, body: "*" }],
          }),
          method("UpdateBook", "UpdateBookRequest", "Book", {
            pattern: { case: "patch", value: "/v1/{book.name=shelves/*/books/*}" },
            body: "book",
          }),
          method("ArchiveBook", "ArchiveBookRequest", "Book", {
            pattern: { case: "post", value: "/v1/{name=shelves/*/books/*}:archive" },
            body: "*",
          }),
          method("GetShelfStats", "GetShelfStatsRequest", "GetShelfStatsResponse", {
            pattern: { case: "get", value: "/v1/shelves/{shelf}/stats" },
            responseBody: "stats",
          }),
          method("GetFile", "GetFileRequest", "File", { pattern: { case: "get", value: "/v1/files/{path=**}" } }),
          method("GetFileIndex", "GetFileRequest", "File", { pattern: { case: "get", value: "/v1/files/index" } }),
          method("SearchBooks", "SearchBooksRequest", "ListBooksResponse", {
            pattern: { case: "custom", value: { kind: "SEARCH", path: "/v1/books:search" } },
            body: "*",
          }),
          method("Ping", "PingRequest", "PingResponse"),
        ],
      },
    ],
  });
}

const registry = createFileRegistry(
  libraryFile(),
  (name) =>
    ({ "google/api/annotations.proto": file_google_api_annotations, "google/protobuf/timestamp.proto": file_google_protobuf_timestamp })[
      name
    ],
);

export const LibraryService: DescService = registry.getService(`${pkg}.LibraryService`)!;

export function libraryMessage(name: string): DescMessage {
  return registry.getMessage(`${pkg}.${name}`)!;
}
