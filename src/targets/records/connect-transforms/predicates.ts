/**
 * Kafka Connect's predicates (KIP-585) that decide whether a transform applies to a record:
 * TopicNameMatches (`pattern`, a Java regex matching the whole topic), HasHeaderKey (`name`) and
 * RecordIsTombstone.
 */
import type { ConnectRecord } from '../connect-record.js';
import type { TransformOptions } from './transform-options.js';

export type ConnectPredicate = (record: ConnectRecord) => boolean;

const PACKAGE = 'org.apache.kafka.connect.transforms.predicates.';

/** Predicate classes by their full name; each reads its options (problems go to `options`). */
export const PREDICATES: Readonly<Record<string, (options: TransformOptions) => ConnectPredicate | undefined>> = {
  [`${PACKAGE}TopicNameMatches`]: (options) => {
    const pattern = options.regex('pattern', true, 'a Java regular expression the whole topic name must match, e.g. .*\\.public\\..*');
    options.rejectUnknown('TopicNameMatches');
    return pattern && ((record) => pattern.test(record.topic));
  },
  [`${PACKAGE}HasHeaderKey`]: (options) => {
    const name = options.required('name', 'the header name whose presence makes the predicate true');
    options.rejectUnknown('HasHeaderKey');
    return name === undefined ? undefined : (record) => record.headers.has(name);
  },
  [`${PACKAGE}RecordIsTombstone`]: (options) => {
    options.rejectUnknown('RecordIsTombstone');
    return (record) => record.value === null || record.value === undefined;
  },
};
