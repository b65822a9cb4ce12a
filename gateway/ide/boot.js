// @ts-check
/**
 * Boots GraphiQL (the UMD build, React 18 globals) against this gateway: queries and mutations
 * POST to /graphql, subscriptions go over graphql-ws on /graphql, both with the bearer token from
 * the token bar (or the URL fragment #token=..., removed from the address bar at once; kept in
 * sessionStorage for the tab only).
 */
(() => {
  'use strict';
  const KEY = 'concord.ide.token';
  const fragment = new URLSearchParams(location.hash.slice(1));
  if (fragment.get('token')) {
    sessionStorage.setItem(KEY, /** @type {string} */ (fragment.get('token')));
    history.replaceState(null, '', location.pathname + location.search);
  }
  const input = /** @type {HTMLInputElement} */ (document.getElementById('token-input'));
  const status = /** @type {HTMLElement} */ (document.getElementById('token-state'));
  const token = () => sessionStorage.getItem(KEY) ?? '';
  const auth = () => (token() ? { authorization: `Bearer ${token()}` } : {});
  // @ts-ignore globals of the UMD builds
  const { React, ReactDOM, GraphiQL, graphqlWs } = window;
  /** @type {any} */
  let ws = null;
  /** @type {any} */
  let root = null;

  function render() {
    ws?.dispose();
    ws = graphqlWs.createClient({ url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/graphql`, connectionParams: () => auth(), lazy: true });
    const fetcher = GraphiQL.createFetcher({ url: '/graphql', headers: auth(), wsClient: ws });
    status.textContent = token() ? 'token set' : 'no token: most fields need one';
    root ??= ReactDOM.createRoot(document.getElementById('graphiql'));
    root.render(React.createElement(GraphiQL, {
      key: token(),
      fetcher,
      defaultQuery: '# Concord federated graph. Try:\n# query { opsOverview { deadLetters runs { status count } } }\n# subscription { businessEvents { id type occurredAt } }\n',
      shouldPersistHeaders: false,
    }));
  }

  /** @type {HTMLFormElement} */ (document.getElementById('token-form')).addEventListener('submit', (event) => {
    event.preventDefault();
    const value = input.value.trim().replace(/^Bearer\s+/i, '');
    if (value) sessionStorage.setItem(KEY, value);
    else sessionStorage.removeItem(KEY);
    input.value = '';
    render();
  });
  render();
})();
