// A real GraphQL server for the graphql.extractor integration tests, built on graphql-js
// and graphql-http. It serves the US airports in airports.csv two ways: as a Relay
// connection (airports(first, after) with edges, node and pageInfo) and as an offset list
// (airportList(offset, limit)).
//
// Usage: PORT=4000 [REQUIRE_TOKEN=secret] node server.js
// It listens on 127.0.0.1 only and prints "ready <url>" on stdout once it accepts requests.
'use strict';

const fs = require('fs');
const http = require('http');
const path = require('path');
const {
  GraphQLSchema, GraphQLObjectType, GraphQLList, GraphQLNonNull, GraphQLString,
  GraphQLInt, GraphQLFloat, GraphQLBoolean, GraphQLID,
} = require('graphql');
const { createHandler } = require('graphql-http/lib/use/http');

const MAX_PAGE = 1000;

// parseCSV reads RFC 4180 text: quoted fields may hold commas and doubled quotes.
function parseCSV(text) {
  const rows = [];
  let row = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') {
        quoted = false;
      } else {
        field += c;
      }
      continue;
    }
    if (c === '"') {
      quoted = true;
    } else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else {
      field += c;
    }
  }
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

function loadAirports() {
  const rows = parseCSV(fs.readFileSync(path.join(__dirname, 'airports.csv'), 'utf8'));
  const header = rows.shift();
  return rows.map((cells) => {
    const rec = {};
    header.forEach((name, i) => { rec[name] = cells[i] === '' ? null : cells[i]; });
    rec.latitude = rec.latitude === null ? null : Number(rec.latitude);
    rec.longitude = rec.longitude === null ? null : Number(rec.longitude);
    return rec;
  });
}

const airports = loadAirports();

const encodeCursor = (index) => Buffer.from(`airport:${index}`).toString('base64');

function decodeCursor(cursor) {
  const text = Buffer.from(cursor, 'base64').toString('utf8');
  const match = /^airport:(\d+)$/.exec(text);
  if (!match) throw new Error('invalid cursor');
  return Number(match[1]);
}

function pageSize(requested) {
  if (requested === null || requested === undefined) return 100;
  if (requested < 0 || requested > MAX_PAGE) {
    throw new Error(`page size must be between 0 and ${MAX_PAGE}`);
  }
  return requested;
}

const Location = new GraphQLObjectType({
  name: 'Location',
  fields: {
    latitude: { type: GraphQLFloat },
    longitude: { type: GraphQLFloat },
  },
});

const Airport = new GraphQLObjectType({
  name: 'Airport',
  fields: {
    iata: { type: new GraphQLNonNull(GraphQLID) },
    name: { type: GraphQLString },
    city: { type: GraphQLString },
    state: { type: GraphQLString },
    country: { type: GraphQLString },
    latitude: { type: GraphQLFloat },
    longitude: { type: GraphQLFloat },
    location: {
      type: new GraphQLNonNull(Location),
      resolve: (a) => ({ latitude: a.latitude, longitude: a.longitude }),
    },
  },
});

const PageInfo = new GraphQLObjectType({
  name: 'PageInfo',
  fields: {
    hasNextPage: { type: new GraphQLNonNull(GraphQLBoolean) },
    endCursor: { type: GraphQLString },
  },
});

const AirportEdge = new GraphQLObjectType({
  name: 'AirportEdge',
  fields: {
    cursor: { type: new GraphQLNonNull(GraphQLString) },
    node: { type: new GraphQLNonNull(Airport) },
  },
});

const AirportConnection = new GraphQLObjectType({
  name: 'AirportConnection',
  fields: {
    totalCount: { type: new GraphQLNonNull(GraphQLInt) },
    edges: { type: new GraphQLNonNull(new GraphQLList(new GraphQLNonNull(AirportEdge))) },
    pageInfo: { type: new GraphQLNonNull(PageInfo) },
  },
});

const Query = new GraphQLObjectType({
  name: 'Query',
  fields: {
    airports: {
      type: new GraphQLNonNull(AirportConnection),
      args: { first: { type: GraphQLInt }, after: { type: GraphQLString } },
      resolve: (_, args) => {
        const start = args.after ? decodeCursor(args.after) + 1 : 0;
        const end = Math.min(start + pageSize(args.first), airports.length);
        const edges = [];
        for (let i = start; i < end; i++) {
          edges.push({ cursor: encodeCursor(i), node: airports[i] });
        }
        return {
          totalCount: airports.length,
          edges,
          pageInfo: {
            hasNextPage: end < airports.length,
            endCursor: edges.length > 0 ? edges[edges.length - 1].cursor : null,
          },
        };
      },
    },
    airportList: {
      type: new GraphQLNonNull(new GraphQLList(new GraphQLNonNull(Airport))),
      args: { offset: { type: GraphQLInt }, limit: { type: GraphQLInt } },
      resolve: (_, args) => {
        const offset = Math.max(args.offset || 0, 0);
        return airports.slice(offset, offset + pageSize(args.limit));
      },
    },
    airport: {
      type: Airport,
      args: { iata: { type: new GraphQLNonNull(GraphQLID) } },
      resolve: (_, args) => airports.find((a) => a.iata === args.iata) || null,
    },
  },
});

const handler = createHandler({ schema: new GraphQLSchema({ query: Query }) });
const requiredToken = process.env.REQUIRE_TOKEN || '';

const server = http.createServer((req, res) => {
  if (!req.url.startsWith('/graphql')) {
    res.writeHead(404).end();
    return;
  }
  if (requiredToken && req.headers.authorization !== `Bearer ${requiredToken}`) {
    res.writeHead(401, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ errors: [{ message: 'unauthorized' }] }));
    return;
  }
  handler(req, res);
});

const port = Number(process.env.PORT || 4000);
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`ready http://127.0.0.1:${server.address().port}/graphql\n`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
