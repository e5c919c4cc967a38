// Placeholder until the demo lands (issue: the main job). It exits non-zero so nobody mistakes it for the story.
console.error("npm run demo: the demo is not built yet; see the open issue for the main job.");
process.exit(1);
