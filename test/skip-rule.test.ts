import test from 'ava';
import { type CourseItem, buildCourseStructure, coveredItemIds, emptyContent, skippedContent, skippedContentFor } from '../src/rescope/skip-rule.js';

let seq = 0;
function item(unitId: string, lessonId: string, competencies: string[], format = 'assessment', id = `i${++seq}`): CourseItem {
  return { id, unitId, lessonId, format, sequence: seq, competencies };
}

test('an item is skipped only when it has competencies and all are achieved', (t) => {
  const course = buildCourseStructure('c', [
    item('u1', 'l1', ['a', 'b'], 'assessment', 'both'),
    item('u1', 'l1', ['a', 'x'], 'assessment', 'half'),
    item('u1', 'l1', [], 'collection', 'none'),
  ]);
  const content = skippedContentFor(course, new Set(['a', 'b']));
  t.deepEqual(content.assessments, ['both']);
  t.deepEqual(content.collections, []);
  t.deepEqual(content.lessons, [], 'the lesson has items that are not skipped');
});

test('an item without competencies is never skipped, so its lesson and unit are not either', (t) => {
  const course = buildCourseStructure('c', [item('u1', 'l1', []), item('u1', 'l1', ['a'])]);
  t.deepEqual(skippedContentFor(course, new Set(['a'])), { ...emptyContent(), assessments: [course.items[1]!.id] });
});

test('a lesson is skipped when all its items are; a unit when all its lessons are', (t) => {
  const course = buildCourseStructure('c', [
    item('u1', 'l1', ['a'], 'assessment', 'a1'),
    item('u1', 'l1', ['b'], 'collection', 'c1'),
    item('u1', 'l2', ['c'], 'assessment-external', 'ae1'),
    item('u2', 'l3', ['a'], 'collection-external', 'ce1'),
    item('u2', 'l4', ['z'], 'assessment', 'a2'),
  ]);
  t.deepEqual(skippedContentFor(course, new Set(['a', 'b', 'c'])), {
    units: ['u1'],
    lessons: ['l1', 'l2', 'l3'],
    assessments: ['a1'],
    collections: ['c1'],
    assessmentsExternal: ['ae1'],
    collectionsExternal: ['ce1'],
  });
});

test('all mastered skips everything with competencies; none mastered skips nothing', (t) => {
  const course = buildCourseStructure('c', [item('u1', 'l1', ['a'], 'assessment', 'x'), item('u2', 'l2', ['b'], 'collection', 'y')]);
  t.deepEqual(skippedContentFor(course, new Set(['a', 'b'])), {
    units: ['u1', 'u2'],
    lessons: ['l1', 'l2'],
    assessments: ['x'],
    collections: ['y'],
    assessmentsExternal: [],
    collectionsExternal: [],
  });
  t.deepEqual(skippedContentFor(course, new Set()), emptyContent());
  t.deepEqual(skippedContentFor(course, new Set(['unrelated'])), emptyContent());
});

test('an item of an unknown format is never skipped and keeps its lesson visible', (t) => {
  const course = buildCourseStructure('c', [item('u1', 'l1', ['a'], 'assessment', 'known'), item('u1', 'l1', ['a'], 'offline-activity', 'odd')]);
  const content = skippedContentFor(course, new Set(['a']));
  t.deepEqual(content.assessments, ['known']);
  t.deepEqual(content.lessons, []);
  t.deepEqual(content.units, []);
  t.false(JSON.stringify(content).includes('odd'));
});

test('an empty course, and an empty covered set, give the empty document in the stored key order', (t) => {
  const empty = buildCourseStructure('c', []);
  t.deepEqual(empty.units, []);
  t.is(JSON.stringify(skippedContent(empty, new Set(['x']))), '{"units":[],"lessons":[],"assessments":[],"collections":[],"assessmentsExternal":[],"collectionsExternal":[]}');
});

test('covered ids the database reports are still filtered by the rule (no competency, unknown format)', (t) => {
  const course = buildCourseStructure('c', [item('u1', 'l1', [], 'assessment', 'bare'), item('u1', 'l1', ['a'], 'weird', 'weird1')]);
  t.deepEqual(skippedContent(course, new Set(['bare', 'weird1'])), emptyContent());
});

test('the tree follows item sequence, whatever order the rows arrive in', (t) => {
  const items = [
    { id: 'late', unitId: 'u2', lessonId: 'l2', format: 'assessment', sequence: 9, competencies: ['a'] },
    { id: 'early', unitId: 'u1', lessonId: 'l1', format: 'assessment', sequence: 1, competencies: ['a'] },
    { id: 'mid', unitId: 'u1', lessonId: 'l1', format: 'assessment', sequence: 5, competencies: ['a'] },
  ];
  const course = buildCourseStructure('c', items);
  t.deepEqual(course.units.map((u) => u.id), ['u1', 'u2']);
  t.deepEqual(skippedContentFor(course, new Set(['a'])).assessments, ['early', 'mid', 'late']);
});

test('coverage counts each competency once, and ignores codes no item uses', (t) => {
  const course = buildCourseStructure('c', [
    { id: 'dup', unitId: 'u', lessonId: 'l', format: 'assessment', sequence: 1, competencies: ['a', 'a'] },
    { id: 'pair', unitId: 'u', lessonId: 'l', format: 'collection', sequence: 2, competencies: ['a', 'b'] },
  ]);
  t.deepEqual([...coveredItemIds(course, ['a', 'zzz', 'a'])], ['dup']);
  t.deepEqual([...coveredItemIds(course, ['b', 'a'])].sort(), ['dup', 'pair']);
  t.deepEqual([...coveredItemIds(course, [])], []);
});

test('a lesson id under two units is skipped only when all its items, in both units, are; it is listed once', (t) => {
  const course = buildCourseStructure('c', [
    item('u1', 'L', ['x'], 'assessment', 'a'),
    item('u2', 'L', ['y'], 'collection', 'b'),
    item('u2', 'M', ['x'], 'assessment', 'c'),
  ]);
  const partly = skippedContentFor(course, ['x']);
  t.deepEqual(partly, { ...emptyContent(), lessons: ['M'], assessments: ['a', 'c'] }, 'item b of lesson L is not skipped, so neither L nor its units are');
  t.deepEqual(skippedContentFor(course, ['x', 'y']), { ...emptyContent(), units: ['u1', 'u2'], lessons: ['L', 'M'], assessments: ['a', 'c'], collections: ['b'] });
  t.deepEqual(skippedContentFor(course, ['y']), { ...emptyContent(), collections: ['b'] });
});

test('a unit whose items are not contiguous in sequence is one unit, listed once, in order of its first item', (t) => {
  const course = buildCourseStructure('c', [
    { id: 'first', unitId: 'u1', lessonId: 'l1', format: 'assessment', sequence: 1, competencies: ['a'] },
    { id: 'between', unitId: 'u2', lessonId: 'l2', format: 'assessment', sequence: 2, competencies: ['a'] },
    { id: 'last', unitId: 'u1', lessonId: 'l3', format: 'assessment', sequence: 3, competencies: ['a'] },
  ]);
  t.deepEqual(skippedContentFor(course, ['a']), { ...emptyContent(), units: ['u1', 'u2'], lessons: ['l1', 'l3', 'l2'], assessments: ['first', 'last', 'between'] });
});
