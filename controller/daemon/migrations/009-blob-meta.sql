-- What was measured of an uploaded file ({"width","height"} of an image,
-- {"lufs","channels","rate"} of audio), kept with the blob, so that an
-- item that names the file by its sha256 (a campaign import, after
-- POST /v1/blobs) gets the same meta as an item uploaded directly.
ALTER TABLE blobs ADD COLUMN meta_json TEXT;
