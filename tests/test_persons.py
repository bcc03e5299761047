"""PersonGrouper: face tracks grouped into persons by dlib face descriptors, on real frames."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.base import clone

from skfer import read_image
from skfer.faces import detect_faces
from skfer.video import PersonGrouper

# two frames of one actor (one shot of "There's Something About Mary"), two of one
# actress ("Harry Potter and the Philosopher's Stone"), checked by eye
MARY = ("Disgust/ThereIsSomethingAboutMary_002123400_00000001.jpg",
        "Disgust/ThereIsSomethingAboutMary_002123400_00000016.jpg")  # fmt: skip
POTTER = ("Angry/HarryPotter_PhilosopherStone_001549894_00000025.jpg",
          "Fear/HarryPotter_PhilosopherStone_001549894_00000042.jpg")  # fmt: skip


@pytest.fixture(scope="module")
def faces(sfew_frames_dir):
    """name -> (frame, its largest face)."""
    out = {}
    for name in (*MARY, *POTTER):
        frame = read_image(sfew_frames_dir / name)
        found = detect_faces(frame, detector="hog")
        assert found, name
        out[name] = (frame, max(found, key=lambda f: f.area))
    return out


def test_the_same_actor_in_two_shots_is_one_person(faces):
    grouper = PersonGrouper()
    for track, name in enumerate((MARY[0], POTTER[0], MARY[1], POTTER[1])):
        frame, face = faces[name]
        grouper.add(frame, [face], [track])
    assert grouper.persons() == {0: 0, 1: 1, 2: 0, 3: 1}
    assert grouper.n_tracks_ == 4
    assert all(d.shape == (1, 128) for d in grouper.descriptors_.values())


def test_one_face_under_two_tracks_is_one_person_and_another_film_is_not(faces):
    grouper = PersonGrouper()
    frame, face = faces[MARY[0]]
    grouper.add(frame, [face], [3])
    grouper.add(frame, [face], [5])  # the same face, a later shot: a new track
    other, face2 = faces[POTTER[0]]
    grouper.add(other, [face2], [9])
    assert grouper.persons() == {3: 0, 5: 0, 9: 1}


def test_tracks_seen_together_are_never_one_person(faces):
    frame, face = faces[MARY[0]]
    grouper = PersonGrouper(threshold=10.0)  # would merge anything
    grouper.add(frame, [face, face], [0, 1])  # the same face, twice in one frame
    other, face2 = faces[MARY[1]]
    grouper.add(other, [face2], [2])
    persons = grouper.persons()
    assert persons[0] != persons[1] and len(persons) == 3
    assert persons[2] in (persons[0], persons[1])


def test_every_track_gets_a_person_and_faces_per_track_bounds_the_work(faces):
    from skfer.faces import Face

    frame, face = faces[POTTER[0]]
    grouper = PersonGrouper(faces_per_track=2)
    for _ in range(4):
        grouper.add(frame, [face], [7])
    tiny = Face((10.0, 10.0, 12.0, 12.0), 1.0)  # too small to describe: its own person
    grouper.add(frame, [tiny], [8])
    assert len(grouper.descriptors_[7]) == 2 and len(grouper.descriptors_[8]) == 0
    assert grouper.persons() == {7: 0, 8: 1}


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(threshold=0), "threshold must be a positive"),
        (dict(threshold="0.5"), "threshold must be a positive"),
        (dict(faces_per_track=0), "faces_per_track must be a positive integer"),
        (dict(faces_per_track=True), "faces_per_track must be a positive integer"),
    ],
)
def test_bad_parameters_are_clear(params, match):
    with pytest.raises(ValueError, match=match):
        PersonGrouper(**params).persons()
    with pytest.raises(ValueError, match=match):
        PersonGrouper(**params).add(np.zeros((8, 8, 3), np.uint8), [], [])


def test_mismatched_tracks_and_clone_pickle(faces):
    frame, face = faces[MARY[0]]
    with pytest.raises(ValueError, match="1 faces but 2 track ids"):
        PersonGrouper().add(frame, [face], [0, 1])
    grouper = PersonGrouper(threshold=0.4)
    grouper.add(frame, [face], [0])
    assert clone(grouper).get_params() == {"threshold": 0.4, "faces_per_track": 4}
    back = pickle.loads(pickle.dumps(grouper))
    assert back.persons() == grouper.persons() == {0: 0}


def test_a_shared_frame_keeps_two_large_groups_apart():
    """Average linkage dilutes one forbidden pair over many: 80 + 80 near-identical
    tracks, one track of each group seen in one frame, stay two persons."""
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=128), rng.normal(size=128)
    a, b = a / np.linalg.norm(a) * 0.1, a / np.linalg.norm(a) * 0.1 + b / np.linalg.norm(b) * 0.3
    grouper = PersonGrouper(threshold=0.5)
    grouper._add_descriptors(
        {t: [a if t < 80 else b] for t in range(160)}, together=[(0, 80)]
    )
    persons = grouper.persons()
    assert persons[0] != persons[80]
    assert len({persons[t] for t in range(80)}) == 1
