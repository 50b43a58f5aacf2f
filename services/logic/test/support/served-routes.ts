/**
 * The routes the app serves, as `METHOD pattern`, read from Fastify's route tree
 * (`app.printRoutes({ commonPrefix: false })`: one line per path segment, indented under its
 * parent: `│   └── /:id (GET, HEAD)`). HEAD is Fastify's own and left out.
 */
export function servedRoutes(tree: string): { method: string; pattern: string }[] {
  const parents: string[] = [];
  const routes: { method: string; pattern: string }[] = [];
  for (const line of tree.split('\n')) {
    const match = /^([│ ]*)[├└]── (\S+) \(([A-Z, ]+)\)$/.exec(line);
    if (!match) continue;
    const depth = match[1]!.length / 4;
    const path = (parents[depth - 1] ?? '') + match[2]!;
    parents[depth] = path;
    for (const method of match[3]!.split(', ')) if (method !== 'HEAD') routes.push({ method, pattern: path });
  }
  return routes;
}
