WITH "t12" AS (
  SELECT
    "t6"."id_type",
    "t6"."id_value",
    MIN("t6"."profile_id") AS "profile_id"
  FROM (
    SELECT
      *
    FROM "profile_identifiers" AS "t2"
    WHERE
      "t2"."status" = 'linked'
      AND "t2"."id_type" IN ('anonymous_id', 'device_id', 'marketplace_buyer_id', 'user_id', 'wechat_openid')
  ) AS "t6"
  GROUP BY
    1,
    2
)
SELECT
  *
FROM (
  SELECT
    *
  FROM (
    SELECT
      "t8"."profile_id"
    FROM (
      SELECT
        *
      FROM (
        SELECT
          "t1"."profile_id"
        FROM "profiles" AS "t1"
      ) AS "t3"
      UNION
      SELECT
        *
      FROM (
        SELECT
          "t2"."profile_id"
        FROM "profile_identifiers" AS "t2"
      ) AS "t4"
    ) AS "t8"
    WHERE
      NOT EXISTS(
        SELECT
          1
        FROM (
          SELECT
            "t23"."profile_id"
          FROM (
            SELECT
              "t22"."profile_id",
              COUNT(*) AS "value"
            FROM (
              SELECT
                *
              FROM (
                SELECT
                  COALESCE("t17"."profile_id", "t18"."profile_id", "t19"."profile_id") AS "profile_id"
                FROM (
                  SELECT
                    "t0"."source",
                    "t0"."user_id",
                    "t0"."anonymous_id",
                    "t0"."context_device_id",
                    COALESCE("t0"."timestamp", "t0"."original_timestamp", "t0"."received_at") AS "ts"
                  FROM "events" AS "t0"
                  WHERE
                    COALESCE("t0"."timestamp", "t0"."original_timestamp", "t0"."received_at") IS NOT NULL
                    AND COALESCE("t0"."timestamp", "t0"."original_timestamp", "t0"."received_at") >= (
                      CAST('2026-06-01T12:00:00' AS TIMESTAMP) - INTERVAL '90 DAY'
                    )
                    AND (
                      (
                        "t0"."timestamp" IS NULL
                      )
                      OR (
                        "t0"."timestamp" >= (
                          CAST('2026-06-01T12:00:00' AS TIMESTAMP) - INTERVAL '90 DAY'
                        )
                      )
                    )
                    AND "t0"."event" IN ('Order Completed')
                ) AS "t11"
                LEFT OUTER JOIN (
                  SELECT
                    *
                  FROM "t12" AS "t13"
                  WHERE
                    "t13"."id_type" IN ('marketplace_buyer_id', 'user_id')
                ) AS "t17"
                  ON CASE
                    WHEN "t11"."source" = 'tmall'
                    THEN 'marketplace_buyer_id'
                    ELSE CASE WHEN "t11"."source" = 'jd' THEN 'marketplace_buyer_id' ELSE 'user_id' END
                  END = "t17"."id_type"
                  AND TRIM(' 	
' FROM "t11"."user_id") = "t17"."id_value"
                LEFT OUTER JOIN (
                  SELECT
                    *
                  FROM "t12" AS "t13"
                  WHERE
                    "t13"."id_type" IN ('anonymous_id', 'wechat_openid')
                ) AS "t18"
                  ON CASE WHEN "t11"."source" = 'wechat' THEN 'wechat_openid' ELSE 'anonymous_id' END = "t18"."id_type"
                  AND TRIM(' 	
' FROM "t11"."anonymous_id") = "t18"."id_value"
                LEFT OUTER JOIN (
                  SELECT
                    *
                  FROM "t12" AS "t13"
                  WHERE
                    "t13"."id_type" = 'device_id'
                ) AS "t19"
                  ON TRIM(' 	
' FROM "t11"."context_device_id") = "t19"."id_value"
              ) AS "t21"
              WHERE
                "t21"."profile_id" IS NOT NULL
            ) AS "t22"
            GROUP BY
              1
          ) AS "t23"
          WHERE
            NOT (
              (
                "t23"."value" >= 0
              ) AND (
                "t23"."value" <= 0
              )
            )
        ) AS "t26"
        WHERE
          "t8"."profile_id" = "t26"."profile_id"
      )
  ) AS "t28"
  UNION
  SELECT
    *
  FROM (
    SELECT
      "t20"."profile_id"
    FROM (
      SELECT
        COALESCE("t17"."profile_id", "t18"."profile_id", "t19"."profile_id") AS "profile_id",
        COALESCE("t10"."channel", "t10"."source") AS "channel",
        "t10"."properties"
      FROM (
        SELECT
          "t0"."channel",
          "t0"."properties",
          "t0"."source",
          "t0"."user_id",
          "t0"."anonymous_id",
          "t0"."context_device_id",
          COALESCE("t0"."timestamp", "t0"."original_timestamp", "t0"."received_at") AS "ts"
        FROM "events" AS "t0"
        WHERE
          COALESCE("t0"."timestamp", "t0"."original_timestamp", "t0"."received_at") IS NOT NULL
          AND "t0"."event" IN ('Message Received')
      ) AS "t10"
      LEFT OUTER JOIN (
        SELECT
          *
        FROM "t12" AS "t13"
        WHERE
          "t13"."id_type" IN ('marketplace_buyer_id', 'user_id')
      ) AS "t17"
        ON CASE
          WHEN "t10"."source" = 'tmall'
          THEN 'marketplace_buyer_id'
          ELSE CASE WHEN "t10"."source" = 'jd' THEN 'marketplace_buyer_id' ELSE 'user_id' END
        END = "t17"."id_type"
        AND TRIM(' 	
' FROM "t10"."user_id") = "t17"."id_value"
      LEFT OUTER JOIN (
        SELECT
          *
        FROM "t12" AS "t13"
        WHERE
          "t13"."id_type" IN ('anonymous_id', 'wechat_openid')
      ) AS "t18"
        ON CASE WHEN "t10"."source" = 'wechat' THEN 'wechat_openid' ELSE 'anonymous_id' END = "t18"."id_type"
        AND TRIM(' 	
' FROM "t10"."anonymous_id") = "t18"."id_value"
      LEFT OUTER JOIN (
        SELECT
          *
        FROM "t12" AS "t13"
        WHERE
          "t13"."id_type" = 'device_id'
      ) AS "t19"
        ON TRIM(' 	
' FROM "t10"."context_device_id") = "t19"."id_value"
    ) AS "t20"
    WHERE
      "t20"."profile_id" IS NOT NULL
      AND LOWER(
        COALESCE(
          CASE
            WHEN JSON_TYPEOF(JSON_EXTRACT_PATH(CAST("t20"."properties" AS JSON), 'channel')) = 'string'
            THEN JSON_EXTRACT_PATH_TEXT(
              JSON_EXTRACT_PATH(CAST("t20"."properties" AS JSON), 'channel'),
              VARIADIC ARRAY[]::TEXT[]
            )
            ELSE NULL
          END,
          "t20"."channel"
        )
      ) IN ('wechat')
      AND COALESCE(
        LOWER(
          TRIM(' 	
' FROM CASE
            WHEN JSON_TYPEOF(JSON_EXTRACT_PATH(CAST("t20"."properties" AS JSON), 'text')) = 'string'
            THEN JSON_EXTRACT_PATH_TEXT(
              JSON_EXTRACT_PATH(CAST("t20"."properties" AS JSON), 'text'),
              VARIADIC ARRAY[]::TEXT[]
            )
            ELSE NULL
          END)
        ) = 'vip',
        FALSE
      )
  ) AS "t24"
) AS "t29"
