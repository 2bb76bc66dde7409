// Every call of the npm client toxiproxy-node-client, against the server at TOXIPROXY_URL.
//
// The package's own test suite is not published with it and expects a server on
// localhost:8474 and fixed ports, so these tests follow it (same names, same checks) and add
// what it leaves out: every toxic type, every method, errors, and traffic through a proxy.
"use strict";

const { test, before, after } = require("node:test");
const assert = require("node:assert/strict");
const net = require("node:net");
const { Toxiproxy, Proxy, Toxic, ToxiproxyError } = require("toxiproxy-node-client");
const helper = require("toxiproxy-node-client/dist/TestHelper");

const url = process.env.TOXIPROXY_URL;
if (!url) {
  throw new Error("TOXIPROXY_URL must name the Toxiproxy server to test");
}
helper.toxiproxyUrl = url; // the helpers read it on every call

let echo;
let echoAddress;

before(async () => {
  echo = net.createServer((socket) => socket.pipe(socket));
  await new Promise((resolve) => echo.listen(0, "127.0.0.1", resolve));
  echoAddress = `127.0.0.1:${echo.address().port}`;
  await helper.removeAllProxies();
});

after(async () => {
  await helper.removeAllProxies();
  await new Promise((resolve) => echo.close(resolve));
});

async function freePort() {
  const probe = net.createServer();
  await new Promise((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

function portOf(listen) {
  return Number(listen.slice(listen.lastIndexOf(":") + 1));
}

// Send `payload` through a proxy and resolve with what comes back before `size` bytes or the close.
function exchange(port, payload, size = payload.length) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let total = 0;
    const socket = net.connect(port, "127.0.0.1", () => socket.write(payload));
    socket.setTimeout(10000, () => socket.destroy(new Error("no answer within 10 s")));
    socket.on("data", (data) => {
      chunks.push(data);
      total += data.length;
      if (total >= size) {
        socket.end();
      }
    });
    socket.on("close", () => resolve(Buffer.concat(chunks)));
    socket.on("error", reject);
  });
}

async function echoProxy(name) {
  const toxiproxy = new Toxiproxy(url);
  const proxy = await toxiproxy.createProxy({ name, listen: "127.0.0.1:0", upstream: echoAddress });
  return { toxiproxy, proxy };
}

// ---- the package's own tests (src/tests/*.spec.ts), as an external client ---------------
test("Toxiproxy Should create a proxy", async () => {
  const { proxy } = await helper.createProxy("create-test");
  assert.ok(proxy instanceof Proxy);
  assert.equal(proxy.name, "create-test");
  assert.equal(proxy.upstream, "localhost:6379");
  assert.equal(proxy.enabled, true);
  assert.match(proxy.listen, /^127\.0\.0\.1:\d+$/); // localhost:0, once bound
  await proxy.remove();
});

test("Toxiproxy Should get a proxy", async () => {
  const { proxy: created, toxiproxy } = await helper.createProxy("get-test");
  const fetched = await toxiproxy.get(created.name);
  assert.deepEqual(fetched.toJson(), created.toJson());
  await created.remove();
});

test("Toxiproxy Should get version", async () => {
  const toxiproxy = new Toxiproxy(url);
  assert.equal(await toxiproxy.getVersion(), '{"version": "2.12.0"}\n');
});

test("Toxiproxy Should reset", async () => {
  const { toxiproxy, proxy } = await echoProxy("reset-test");
  await proxy.addToxic({ type: "latency", attributes: { latency: 10 } });
  await proxy.update({ enabled: false, listen: proxy.listen, upstream: proxy.upstream });
  await toxiproxy.reset();
  const after = await toxiproxy.getApi().get(`${url}/proxies/reset-test`);
  assert.equal(after.data.enabled, true);
  assert.deepEqual(after.data.toxics, []);
  await proxy.remove();
});

test("Toxiproxy Should populate", async () => {
  const toxiproxy = new Toxiproxy(url);
  const proxies = await toxiproxy.populate([
    { listen: "localhost:0", name: "get-all-test", upstream: "localhost:6379" },
  ]);
  assert.deepEqual(Object.keys(proxies), ["get-all-test"]);
  assert.ok(proxies["get-all-test"] instanceof Proxy);
  await Promise.all(Object.values(proxies).map((proxy) => proxy.remove()));
});

test("Toxiproxy Should get all proxies", async () => {
  const toxiproxy = new Toxiproxy(url);
  const proxy1 = { listen: `127.0.0.1:${await freePort()}`, name: "get-all-test1", upstream: "localhost:6379" };
  const proxy2 = { listen: `127.0.0.1:${await freePort()}`, name: "get-all-test2", upstream: "localhost:12345" };
  await toxiproxy.populate([proxy1, proxy2]);
  const proxies = await toxiproxy.getAll();
  assert.equal(Object.keys(proxies).length, 2);
  for (const wanted of [proxy1, proxy2]) {
    assert.equal(proxies[wanted.name].name, wanted.name);
    assert.equal(proxies[wanted.name].listen, wanted.listen);
    assert.equal(proxies[wanted.name].upstream, wanted.upstream);
  }
  await helper.removeAllProxies();
});

test("Proxy Should update a proxy", async () => {
  const { proxy } = await helper.createProxy("update-proxy-test");
  const disabled = await proxy.update({ enabled: false, listen: proxy.listen, upstream: proxy.upstream });
  assert.equal(disabled.enabled, false);
  const moved = await proxy.update({ enabled: true, listen: proxy.listen, upstream: "somehost:12345" });
  assert.equal(moved.enabled, true);
  assert.equal(moved.upstream, "somehost:12345");
  assert.equal(moved.listen, proxy.listen); // the same port is bound again
  await proxy.remove();
});

test("Proxy Should remove a proxy", async () => {
  const { proxy, toxiproxy } = await helper.createProxy("remove-test");
  await proxy.remove();
  assert.deepEqual(Object.keys(await toxiproxy.getAll()), []);
});

test("Creating the same proxy twice should result in an error", async () => {
  const { proxy } = await helper.createProxy("duplicate");
  await assert.rejects(helper.createProxy("duplicate"), {
    name: "Error",
    message: "Request failed with status code 409",
  });
  await proxy.remove();
});

test("CRUD for Toxics", async () => {
  const { proxy } = await helper.createProxy("remove-toxic-test");
  const toxic = await helper.createToxic(proxy, "latency", { latency: 1000, jitter: 100 });
  assert.ok(toxic instanceof Toxic);
  assert.equal(toxic.name, "latency_downstream");
  assert.equal(toxic.toxicity, 1);
  assert.deepEqual(toxic.attributes, { latency: 1000, jitter: 100 });

  const fetched = await proxy.getToxic(toxic.name);
  assert.deepEqual(fetched.toJson(), toxic.toJson());

  const updated = await toxic.update({ attributes: { latency: 12345, jitter: 42 } });
  assert.deepEqual(updated.attributes, { latency: 12345, jitter: 42 });
  assert.equal(updated.toxicity, 1); // an update without toxicity keeps it

  await toxic.remove();
  await assert.rejects(proxy.getToxic(toxic.name), {
    message: "Request failed with status code 404",
  });
  await proxy.remove();
});

test("Creating the same Toxic twice should result in an error", async () => {
  const { proxy } = await helper.createProxy("duplicate-toxic-test");
  const attributes = { latency: 1000, jitter: 100 };
  await helper.createToxic(proxy, "latency", attributes);
  await assert.rejects(helper.createToxic(proxy, "latency", attributes), {
    message: "Request failed with status code 409",
  });
  await proxy.remove();
});

const everyType = {
  latency: { latency: 1000, jitter: 100 },
  bandwidth: { rate: 1000 },
  slow_close: { delay: 1000 },
  timeout: { timeout: 5000 },
  slicer: { average_size: 1000, size_variation: 1000, delay: 1000 },
  reset_peer: { timeout: 1000 },
  limit_data: { bytes: 42 },
  noop: {},
};

for (const [type, attributes] of Object.entries(everyType)) {
  test(`Proxy Should add a ${type} toxic`, async () => {
    const { proxy } = await helper.createProxy(`add-${type}-toxic-test`);
    const toxic = await helper.createToxic(proxy, type, attributes);
    assert.equal(toxic.type, type);
    assert.equal(toxic.stream, "downstream");
    assert.deepEqual(toxic.attributes, attributes);
    await proxy.remove();
  });
}

// ---- beyond the package's suite ---------------------------------------------------------
test("Objects describe themselves and their paths", async () => {
  const { toxiproxy, proxy } = await echoProxy("paths-test");
  assert.equal(proxy.getToxiproxy(), toxiproxy);
  assert.equal(proxy.getHost(), url);
  assert.equal(proxy.getPath(), `${url}/proxies/paths-test`);
  assert.deepEqual(proxy.toJson(), {
    enabled: true,
    listen: proxy.listen,
    name: "paths-test",
    upstream: echoAddress,
  });
  const toxic = await proxy.addToxic({
    name: "slow",
    type: "latency",
    stream: "upstream",
    toxicity: 0.5,
    attributes: { latency: 5, jitter: 0 },
  });
  assert.equal(toxic.getPath(), `${url}/proxies/paths-test/toxics/slow`);
  assert.deepEqual(toxic.toJson(), {
    attributes: { latency: 5, jitter: 0 },
    name: "slow",
    stream: "upstream",
    toxicity: 0.5,
    type: "latency",
  });
  await proxy.remove();
});

test("Refusals reject with ToxiproxyError", async () => {
  const toxiproxy = new Toxiproxy(url);
  await assert.rejects(toxiproxy.get("nope"), (error) => {
    assert.ok(error instanceof ToxiproxyError);
    assert.equal(error.message, "Request failed with status code 404");
    return true;
  });
  const { proxy } = await echoProxy("refusals-test");
  await assert.rejects(proxy.addToxic({ type: "no_such_type" }), {
    message: "Request failed with status code 400",
  });
  await proxy.remove();
});

test("Toxics added through the client act on traffic", async () => {
  const { proxy } = await echoProxy("traffic-test");
  const port = portOf(proxy.listen);
  assert.equal((await exchange(port, Buffer.from("plain"))).toString(), "plain");

  const latency = await proxy.addToxic({ type: "latency", stream: "upstream", attributes: { latency: 300 } });
  const started = Date.now();
  assert.equal((await exchange(port, Buffer.from("late"))).toString(), "late");
  assert.ok(Date.now() - started >= 300, "the round trip crossed a 300 ms latency toxic");
  await latency.remove();

  await proxy.addToxic({ type: "limit_data", attributes: { bytes: 4 } });
  assert.equal((await exchange(port, Buffer.from("truncated"), 9)).toString(), "trun");
  await proxy.remove();
});

test("removeAllProxies leaves none", async () => {
  await helper.createProxy("left-over");
  await helper.removeAllProxies();
  assert.deepEqual(await new Toxiproxy(url).getAll(), {});
});
