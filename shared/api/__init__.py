"""The HTTP API without a web framework: requests in, responses out.

- `http`: ApiRequest and ApiResponse, the two shapes a blueprint converts to and from
- `routes`: every route (method, path, role, models) and `dispatch`, which authenticates,
  rate-limits, validates and maps errors for all of them in one place
- `problems`: the error hierarchy as application/problem+json (RFC 9457)
- `openapi`: the OpenAPI 3.1 document, generated from the route table and its models
- `invoices`, `jobs`, `uploads`: the handlers
"""
