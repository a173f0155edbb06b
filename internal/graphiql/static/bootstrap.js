// Bootstrap for the embedded GraphiQL page (served by internal/graphiql).
//
// It lives in its own file rather than inline in the HTML so the page's
// Content-Security-Policy can use script-src 'self' with no inline script.
// The per-server settings come from the non-executable JSON block
// <script id="graphiql-config" type="application/json">, which the Go side
// renders with html/template (so every value is JSON-encoded and escaped).
//
// Globals used (from the vendored UMD builds loaded before this file):
//   React, ReactDOM (react@18 / react-dom@18 UMD) and GraphiQL (graphiql@4 UMD).
(function () {
  'use strict';

  var config = JSON.parse(document.getElementById('graphiql-config').textContent);

  // Resolve the endpoint against the page URL so a path like "/graphql"
  // works behind any host/port/scheme, then derive the WebSocket URL on the
  // same host: http -> ws, https -> wss.
  var httpURL = new URL(config.endpoint, window.location.href);
  httpURL.hash = '';
  var wsURL = new URL(httpURL.href);
  wsURL.protocol = httpURL.protocol === 'https:' ? 'wss:' : 'ws:';

  // GraphiQL.createFetcher is @graphiql/toolkit's createGraphiQLFetcher. The
  // UMD bundle ships the graphql-ws client, so passing subscriptionUrl is
  // enough: subscription operations go over WebSocket with the
  // graphql-transport-ws protocol, and the request headers from the headers
  // editor are sent as connection_init payload (connectionParams).
  // Queries and mutations are POSTed to the HTTP endpoint.
  var baseFetcher = GraphiQL.createFetcher({
    url: httpURL.href,
    subscriptionUrl: wsURL.href,
  });

  // GraphiQL 4 runs the first schema introspection before the headers editor
  // exists, so it goes out with no headers at all and fails on servers that
  // require auth for introspection. Fill that gap with the configured
  // headers; once the editor is up its (possibly edited) headers win.
  var introspectionHeaders = config.defaultHeaders ? JSON.parse(config.defaultHeaders) : null;
  var fetcher = function (params, opts) {
    if (introspectionHeaders && params.operationName === 'IntrospectionQuery' && !(opts && opts.headers)) {
      opts = Object.assign({}, opts, { headers: introspectionHeaders });
    }
    return baseFetcher(params, opts);
  };

  var props = { fetcher: fetcher };
  if (config.defaultQuery) {
    props.defaultQuery = config.defaultQuery;
  }
  // A link can open an operation: /?query=…&variables=… (the parameters of
  // GraphiQL's own CDN example), so docs, issues and tests can point at a
  // ready-made query. It only fills the editors: nothing runs until the user
  // presses run. GraphiQL shows it in the first tab of a fresh browser, and
  // otherwise in a new tab (or the saved tab already holding it).
  var params = new URLSearchParams(window.location.search);
  if (params.has('query')) {
    props.query = params.get('query');
  }
  if (params.has('variables')) {
    props.variables = params.get('variables');
  }
  if (config.defaultHeaders) {
    // A JSON string, as GraphiQL's headers editor expects. Open the headers
    // pane so pre-filled credentials are visible rather than implicit.
    props.defaultHeaders = config.defaultHeaders;
    props.defaultEditorToolsVisibility = 'headers';
  }

  ReactDOM.createRoot(document.getElementById('graphiql')).render(
    React.createElement(GraphiQL, props),
  );
})();
