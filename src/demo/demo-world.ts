/**
 * The demo's small world, with names so its story reads in half a minute: a course, two
 * classes, a teacher, a co-teacher and three learners with different competencies; three
 * schools whose pupils' checks are overdue, failed, fine, restarted or excused.
 */
import { randomUUID } from 'node:crypto';
import type { Database } from '../db/database.js';
import { type SeededCourse, seedClass, seedCompetencies, seedCourse } from '../seed/course-world.js';
import { type SeededPupil, seedPupil, seedSchool } from '../seed/mtc-world.js';

export interface DemoWorld {
  course: SeededCourse;
  /** Display names of every id the story mentions. */
  names: Map<string, string>;
  year5: { id: string; teacher: string; coTeacher: string; learners: { ada: string; ben: string; cat: string } };
  year6: { id: string };
  schools: { oak: string; elm: string; ash: string };
  pupils: { overdue: SeededPupil; failed: SeededPupil; invalidLater: SeededPupil };
}

export async function seedDemoWorld(db: Database, now: Date): Promise<DemoWorld> {
  const names = new Map<string, string>();
  const named = (id: string, name: string) => {
    names.set(id, name);
    return id;
  };

  // Fractions: unit 1 has two lessons, unit 2 one lesson with an item that has no
  // competency (so unit 2 can never be skipped).
  const course = await seedCourse(db, {
    title: 'Fractions',
    units: [
      [
        [{ competencies: ['FR.1'] }, { format: 'collection', competencies: ['FR.1', 'FR.2'] }],
        [{ competencies: ['FR.3'] }, { format: 'assessment-external', competencies: ['FR.3', 'FR.4'] }],
      ],
      [[{ competencies: ['FR.5'] }, { format: 'collection', competencies: [] }]],
    ],
  });
  named(course.id, 'Fractions');
  course.units.forEach((unit, u) => {
    named(unit.id, `unit ${u + 1}`);
    unit.lessons.forEach((lesson, l) => {
      named(lesson.id, `lesson ${u + 1}.${l + 1}`);
      lesson.items.forEach((item, i) => named(item, `item ${u + 1}.${l + 1}.${i + 1}`));
    });
  });

  const ada = named(randomUUID(), 'Ada');
  const ben = named(randomUUID(), 'Ben');
  const cat = named(randomUUID(), 'Cat');
  const teacher = named(randomUUID(), 'Ms Patel (teacher)');
  const coTeacher = named(randomUUID(), 'Mr Okafor (co-teacher)');
  const year5 = await seedClass(db, { courseId: course.id, creatorId: teacher, collaborators: [coTeacher], members: [ada, ben, cat], rescope: true });
  named(year5.id, 'Year 5 maths');
  const year6 = await seedClass(db, { courseId: course.id, members: [randomUUID()], rescope: false });
  named(year6.id, 'Year 6 maths (rescope off)');
  // Ada has everything in unit 1 and FR.5; Ben lesson 1.1 only; Cat nothing yet.
  await seedCompetencies(db, {
    [ada]: { 'FR.1': 'mastered', 'FR.2': 'mastered', 'FR.3': 'completed', 'FR.4': 'mastered', 'FR.5': 'completed' },
    [ben]: { 'FR.1': 'completed', 'FR.2': 'completed', 'FR.3': 'in-progress' },
  });

  const oak = await seedSchool(db, 'Oak Primary');
  const elm = await seedSchool(db, 'Elm Primary');
  const ash = await seedSchool(db, 'Ash Primary');
  named(oak.urlSlug, 'Oak Primary');
  named(elm.urlSlug, 'Elm Primary');
  named(ash.urlSlug, 'Ash Primary');
  const overdue = await seedPupil(db, oak.id, { check: { loggedInMinutesAgo: 2 * 1440 } }, now);
  named(overdue.urlSlug, 'pupil Olu (Oak)');
  named(overdue.checkCode, "Olu's check (logged in 2 days ago, never received)");
  await seedPupil(db, oak.id, { check: { loggedInMinutesAgo: 2 * 1440, received: true, complete: true } }, now);
  await seedPupil(db, oak.id, { restartedFrom: { loggedInMinutesAgo: 2 * 1440 }, check: {} }, now);
  await seedPupil(db, oak.id, { check: { loggedInMinutesAgo: 2 * 1440 }, attendance: true }, now);
  const failed = await seedPupil(db, elm.id, { check: { loggedInMinutesAgo: 90, received: true, processingFailed: true } }, now);
  named(failed.urlSlug, 'pupil Eve (Elm)');
  const invalidLater = await seedPupil(db, elm.id, { check: { loggedInMinutesAgo: 20, received: true } }, now);
  named(invalidLater.urlSlug, 'pupil Eli (Elm)');
  await seedPupil(db, ash.id, { check: { loggedInMinutesAgo: 2 * 1440, received: true, complete: true } }, now);

  return {
    course,
    names,
    year5: { id: year5.id, teacher, coTeacher, learners: { ada, ben, cat } },
    year6: { id: year6.id },
    schools: { oak: oak.urlSlug, elm: elm.urlSlug, ash: ash.urlSlug },
    pupils: { overdue, failed, invalidLater },
  };
}
