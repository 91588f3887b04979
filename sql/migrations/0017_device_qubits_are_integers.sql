-- 0017_device_qubits_are_integers: a device's `qubits` is stored as an integer, as every reader takes it.
--
-- The constraint allowed any number from 1 to 1000000, so `28.0` (or `28.5`) could be stored, and the scheduler's
-- and the executors' `(properties ->> 'qubits')::integer` then failed on that device's row: every scheduling round of
-- the fleet failed with it. Stored values are made whole (a fraction is cut off) and the constraint now asks for
-- an integer literal (or null: not known).

ALTER TABLE device DROP CONSTRAINT device_qubits_positive;
UPDATE device SET properties = jsonb_set(properties, '{qubits}', to_jsonb(greatest(1, trunc((properties ->> 'qubits')::numeric))::integer))
WHERE jsonb_typeof(properties -> 'qubits') = 'number' AND (properties ->> 'qubits') !~ '^[0-9]+$';
ALTER TABLE device ADD CONSTRAINT device_qubits_positive CHECK (
    CASE jsonb_typeof(properties -> 'qubits')
        WHEN 'null' THEN true
        WHEN 'number' THEN CASE WHEN (properties ->> 'qubits') ~ '^[1-9][0-9]{0,6}$'
                                THEN (properties ->> 'qubits')::integer <= 1000000 ELSE false END
        ELSE NOT properties ? 'qubits'
    END);
