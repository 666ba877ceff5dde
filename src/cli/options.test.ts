import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidArgumentError } from 'commander';
import { commaList, duration, flag, listenAddress, nonNegativeInt, oneOf, type OptionParser, positiveInt, ratio, size, versionOrLatest } from './options.js';

/** Each row: the text, and the value parsed or the RegExp the refusal (saying what is accepted) must match. */
function table<T>(name: string, parse: OptionParser<T>, rows: Array<[string, T | RegExp]>): void {
  describe(name, () => {
    for (const [text, expected] of rows) {
      it(JSON.stringify(text), () => {
        if (expected instanceof RegExp) {
          assert.throws(() => parse(text), (err: Error) => {
            assert.ok(err instanceof InvalidArgumentError, `${err.name}: ${err.message}`);
            assert.match(err.message, expected);
            return true;
          });
        } else assert.deepEqual(parse(text), expected);
      });
    }
  });
}

table('positiveInt(64)', positiveInt(64), [
  ['1', 1], ['2', 2], ['64', 64], ['007', 7],
  ['abc', /^Accepted: a whole number from 1 to 64\.$/], ['0', /from 1 to 64/], ['65', /from 1 to 64/], ['-1', /from 1 to 64/],
  ['', /whole number/], [' 5', /whole number/], ['1.5', /whole number/], ['3.0', /whole number/], ['1e2', /whole number/], ['0x10', /whole number/],
  ['Infinity', /whole number/], ['NaN', /whole number/], ['99999999999999999999', /whole number/],
]);
table('ratio(0.1, 10)', ratio(0.1, 10), [
  ['1', 1], ['1.5', 1.5], ['10', 10], ['0.1', 0.1],
  ['0', /^Accepted: a decimal number from 0\.1 to 10, like 1\.5\.$/], ['10.5', /from 0\.1 to 10/], ['-1', /decimal/], ['1e1', /decimal/], ['', /decimal/], ['.5', /decimal/], ['NaN', /decimal/],
]);
table('positiveInt()', positiveInt(), [['123456', 123456], ['0', /^Accepted: a whole number, 1 or more\.$/]]);
table('nonNegativeInt(10)', nonNegativeInt(10), [['0', 0], ['10', 10], ['11', /from 0 to 10/], ['', /from 0 to 10/]]);

const seconds = duration({ bareUnit: 's', minMs: 0, maxMs: 3_600_000 });
table('duration in seconds (0..1h)', seconds, [
  ['60', 60_000], ['0', 0], ['90s', 90_000], ['1500ms', 1500], ['5m', 300_000], ['1h', 3_600_000],
  ['abc', /^Accepted: a duration from 0 to 1h: a whole number of seconds, or with a unit \(ms, s, m, h\) like 90s or 5m\.$/],
  ['', /a duration/], ['2h', /from 0 to 1h/], ['-5', /a duration/], ['1.5', /a duration/], ['5 m', /a duration/], ['5d', /a duration/], ['null', /a duration/],
]);
table('duration in minutes (1m..1d)', duration({ bareUnit: 'm', minMs: 60_000, maxMs: 86_400_000 }), [
  ['10', 600_000], ['30s', /from 1m to 24h: a whole number of minutes/], ['1441', /from 1m to 24h/],
]);

const disk = size({ minBytes: 2 ** 20, maxBytes: 64 * 2 ** 40 });
table('size (1M..64T)', disk, [
  ['1G', 2 ** 30], ['512M', 512 * 2 ** 20], ['1.5G', 1.5 * 2 ** 30], ['1048576', 2 ** 20], ['2GiB', 2 ** 31], ['64T', 64 * 2 ** 40],
  ['lots', /^Accepted: a size from 1M to 64T, like 512M or 2G/], ['1K', /from 1M to 64T/], ['65T', /from 1M to 64T/], ['', /a size/], ['-1G', /a size/], ['1X', /a size/],
]);

table('oneOf', oneOf(['trace', 'debug', 'info', 'warn', 'error'] as const), [
  ['info', 'info'], ['error', 'error'], ['INFO', /^Accepted: one of trace, debug, info, warn, error\.$/], ['', /one of/], ['verbose', /one of/],
]);

table<number | 'latest'>('versionOrLatest', versionOrLatest, [['latest', 'latest'], ['3', 3], ['0', /a version number \(1 or more\) or latest/], ['newest', /or latest/]]);

table('listenAddress', listenAddress, [
  ['127.0.0.1:8080', '127.0.0.1:8080'], ['[::1]:0', '[::1]:0'], ['localhost:65535', 'localhost:65535'],
  ['8080', /ADDR:PORT/], ['127.0.0.1:65536', /port 0 to 65535/], ['127.0.0.1:', /ADDR:PORT/], [':8080', /ADDR:PORT/], ['::1:80', /ADDR:PORT/],
]);

table('commaList', commaList, [['a,b', ['a', 'b']], [' a , ,b ', ['a', 'b']], ['', []]]);

describe('flag', () => {
  it('parses its default with the same parser and shows it as typed', () => {
    const o = flag('--timeout <seconds>', 'how long', duration({ bareUnit: 's', minMs: 0, maxMs: 3_600_000 }), '60');
    assert.equal(o.defaultValue, 60_000);
    assert.equal(o.defaultValueDescription, '60');
  });
  it('a default its own parser refuses is a programming error, caught at once', () => {
    assert.throws(() => flag('--n <n>', 'n', positiveInt(4), '5'), InvalidArgumentError);
  });
});
