WITH "t5" AS (
  SELECT
    "t3"."id_type",
    "t3"."id_value",
    MIN("t3"."profile_id") AS "profile_id"
  FROM (
    SELECT
      *
    FROM "profile_identifiers" AS "t2"
    WHERE
      "t2"."status" = 'linked'
      AND "t2"."id_type" IN ('anonymous_id', 'device_id', 'marketplace_buyer_id', 'user_id', 'wechat_openid')
  ) AS "t3"
  GROUP BY
    1,
    2
)
SELECT
  *
FROM (
  SELECT
    "t20"."profile_id"
  FROM (
    SELECT DISTINCT
      "t18"."profile_id"
    FROM (
      SELECT
        COALESCE("t14"."profile_id", "t15"."profile_id", "t16"."profile_id") AS "profile_id",
        "t17"."last_seen"
      FROM (
        SELECT
          "t8"."source",
          "t8"."user_id",
          "t8"."anonymous_id",
          "t8"."context_device_id",
          MAX("t8"."ts") AS "last_seen"
        FROM (
          SELECT
            "t1"."event",
            "t1"."source",
            "t1"."channel",
            "t1"."properties",
            "t1"."user_id",
            "t1"."anonymous_id",
            "t1"."context_device_id",
            "t1"."context_os_name",
            "t1"."context_device_type",
            "t1"."context_app_name",
            "t1"."context",
            "t1"."loaded_at",
            COALESCE("t1"."timestamp", "t1"."original_timestamp", "t1"."received_at") AS "ts"
          FROM "events" AS "t1"
          WHERE
            COALESCE("t1"."timestamp", "t1"."original_timestamp", "t1"."received_at") IS NOT NULL
            AND "t1"."context_os_name" = 'iOS'
            AND CASE
              WHEN JSON_TYPE(CAST("t1"."context" AS JSON) -> '$.device' -> '$.token') = 'VARCHAR'
              THEN (
                CAST("t1"."context" AS JSON) -> '$.device' -> '$.token'
              ) ->> '$'
              ELSE NULL
            END IS NOT NULL
            AND TRIM(
              CASE
                WHEN JSON_TYPE(CAST("t1"."context" AS JSON) -> '$.device' -> '$.token') = 'VARCHAR'
                THEN (
                  CAST("t1"."context" AS JSON) -> '$.device' -> '$.token'
                ) ->> '$'
                ELSE NULL
              END,
              ' 	
'
            ) <> ''
        ) AS "t8"
        GROUP BY
          1,
          2,
          3,
          4
      ) AS "t17"
      LEFT OUTER JOIN (
        SELECT
          *
        FROM "t5" AS "t6"
        WHERE
          "t6"."id_type" IN ('marketplace_buyer_id', 'user_id')
      ) AS "t14"
        ON CASE
          WHEN "t17"."source" = 'tmall'
          THEN 'marketplace_buyer_id'
          ELSE CASE WHEN "t17"."source" = 'jd' THEN 'marketplace_buyer_id' ELSE 'user_id' END
        END = "t14"."id_type"
        AND TRIM("t17"."user_id", ' 	
') = "t14"."id_value"
      LEFT OUTER JOIN (
        SELECT
          *
        FROM "t5" AS "t6"
        WHERE
          "t6"."id_type" IN ('anonymous_id', 'wechat_openid')
      ) AS "t15"
        ON CASE WHEN "t17"."source" = 'wechat' THEN 'wechat_openid' ELSE 'anonymous_id' END = "t15"."id_type"
        AND TRIM("t17"."anonymous_id", ' 	
') = "t15"."id_value"
      LEFT OUTER JOIN (
        SELECT
          *
        FROM "t5" AS "t6"
        WHERE
          "t6"."id_type" = 'device_id'
      ) AS "t16"
        ON TRIM("t17"."context_device_id", ' 	
') = "t16"."id_value"
    ) AS "t18"
    WHERE
      "t18"."profile_id" IS NOT NULL
  ) AS "t20"
  ANTI JOIN (
    SELECT
      "t4"."profile_id"
    FROM (
      SELECT
        "t0"."profile_id",
        CASE
          WHEN JSON_TYPE(CAST("t0"."consent" AS JSON) -> '$.push') = 'VARCHAR'
          THEN (
            CAST("t0"."consent" AS JSON) -> '$.push'
          ) ->> '$'
          ELSE NULL
        END AS "value"
      FROM "profiles" AS "t0"
    ) AS "t4"
    WHERE
      "t4"."value" = 'granted'
  ) AS "t9"
    ON "t20"."profile_id" = "t9"."profile_id"
) AS "t22"
